"""A central ML platform, written as `.slp` text: the shape organisations run.

    from benchmarks.platform import platform
    text = platform(teams=120)     # ~1,100 grants; platform(teams=1200): ~11,000

Unlike `synthetic.py` (every team owns its VPC, key and buckets), everything here
is shared: two VPCs (training, serving) with S3, KMS, ECR and SageMaker-runtime
endpoints, an evaluation account's VPC and a CI address range; four keys by data
class; weights buckets each shared by 10 teams and dataset buckets each shared by
15, every team under its own prefix; per team a training, a serving and a frontend
role, obtained through SageMaker or EKS Pod Identity once the CI deployer passes them;
people through IAM Identity Center, pipelines through GitHub's OIDC; repositories and
SageMaker endpoints shared by several teams; cross-account
evaluators whose grants expire; a release pipeline that is every weights bucket's
breakglass and also holds grants of its own there. Guardrails are on. The shape
is fixed for a number of teams: no randomness.
"""

from __future__ import annotations

ACCOUNT = "111122223333"
EVAL_ACCOUNT = "444455556666"
REGION = "eu-central-1"
UNTIL = "2027-06-30T00:00:00Z"
TEAMS_PER_WEIGHTS_BUCKET = 10
DATASET_BUCKETS_PER_TEAM = 3
TEAMS_PER_DATASET_BUCKET = 15
TEAMS_PER_REPOSITORY = 8
TEAMS_PER_ENDPOINT = 15
TEAMS_PER_EVALUATOR = 6
TEAMS_PER_EVALUATOR_GRANTS = 5  # each evaluator reads the released weights of five teams
KEYS = ("weights", "datasets", "evaluation", "artifacts")


def _vpce(n: int) -> str:
    return f"vpce-{n:017x}"


def _network(name: str, vpc: int, services: tuple[str, ...], account: str | None = None) -> str:
    width = max(map(len, services))
    lines = [f"network {name} {{"] + ([f'  account "{account}"'] if account else [])
    lines.append(f'  vpc "vpc-{vpc:017x}"')
    lines += [f'  endpoint {s.ljust(width)} "{_vpce(vpc * 16 + i)}"' for i, s in enumerate(services)]
    return "\n".join(lines + ["}"])


def _role(name: str, path: str, *trust: str, account: str = ACCOUNT) -> str:
    """A role and who may become it (its block's lines)."""
    return f'role {name} "arn:aws:iam::{account}:role/{path}" {{\n' + "".join(f"  {t}\n" for t in trust) + "}"


def _cluster(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:eks:{REGION}:{account}:cluster/{name}"


def platform(teams: int = 120) -> str:
    """The platform for `teams` teams (at least 30), deterministic."""
    if teams < 30:
        raise ValueError("at least 30 teams: fewer cannot share buckets the way the platform does")
    n_weights = teams // TEAMS_PER_WEIGHTS_BUCKET
    n_datasets = teams * DATASET_BUCKETS_PER_TEAM // TEAMS_PER_DATASET_BUCKET
    n_repos = teams // TEAMS_PER_REPOSITORY
    n_endpoints = teams // TEAMS_PER_ENDPOINT
    n_evaluators = teams // TEAMS_PER_EVALUATOR
    full = ("s3", "kms", "ecr.api", "ecr.dkr", "sagemaker.runtime")
    out = [f'deployment "ml-platform-{teams}" {{\n  partition "aws"\n  account   "{ACCOUNT}"\n'
           f'  org       "o-a1b2c3d4e5"\n  regions   ["{REGION}"]\n}}',
           _network("train_vpc", 1, full), _network("serve_vpc", 2, full),
           _network("eval_vpc", 3, ("s3", "kms"), EVAL_ACCOUNT),
           'network ci {\n  cidr "203.0.113.0/24"\n}',
           _role("platform_admin", "platform/admin", 'assumed_by identity_center "PlatformAdmin"', "admins [breakglass]"),
           _role("breakglass", "platform/breakglass", 'assumed_by identity_center "PlatformBreakGlass"',
                 "admins [platform_admin]", "session 1 hours"),
           _role("release_pipeline", "platform/release-pipeline",
                 'assumed_by github "acme/ml-release" environment "release"', "admins [platform_admin]"),
           _role("ci_deployer", "platform/ci-deployer", 'assumed_by github "acme/ml-platform" ref "refs/heads/main"',
                 "admins [platform_admin]"),
           _role("eval_admin", "evaluation/admin", 'assumed_by identity_center "EvaluationAdmin"',
                 "admins [eval_admin]", account=EVAL_ACCOUNT)]
    for i, k in enumerate(KEYS):
        out.append(f'key {k}_key {{\n  arn    "arn:aws:kms:{REGION}:{ACCOUNT}:key/'
                   f'{i:08x}-0000-4000-8000-{i:012x}"\n  admins [platform_admin]\n}}')
    for b in range(n_weights):
        out.append(f'bucket weights_{b:02d} {{\n  name        "acme-ml-weights-{b:02d}"\n  encrypt     weights_key\n'
                   f'  object_lock governance 365 days\n  audit       data_events\n  admins      [platform_admin]\n'
                   f'  breakglass  [breakglass, release_pipeline]\n}}')
    for b in range(n_datasets):
        out.append(f'bucket datasets_{b:02d} {{\n  name    "acme-ml-datasets-{b:02d}"\n  encrypt datasets_key\n'
                   f'  audit   data_events\n  admins  [platform_admin]\n}}')
    out.append('bucket evaluation {\n  name    "acme-ml-evaluation"\n  encrypt evaluation_key\n'
               '  audit   data_events\n  admins  [platform_admin]\n}')
    out.append('bucket artifacts {\n  name    "acme-ml-artifacts"\n  encrypt artifacts_key\n'
               '  audit   data_events\n  admins  [platform_admin]\n}')
    out += [f'repository images_{r:02d} {{\n  name   "ml-platform/images-{r:02d}"\n  admins [platform_admin]\n}}'
            for r in range(n_repos)]
    out += [f'endpoint chat_{e:02d} {{\n  sagemaker "llm-chat-{e:02d}"\n}}' for e in range(n_endpoints)]

    allows = []
    for t in range(teams):
        team = f"team{t:03d}"
        prefix = f"team-{t:03d}/"
        for kind in ("training", "serving"):
            out.append(_role(f"{team}_{kind}", f"ml-platform/{team}-{kind}", "assumed_by service sagemaker",
                             "passed_by ci_deployer to sagemaker", "admins [platform_admin]"))
        out.append(_role(f"{team}_frontend", f"ml-platform/{team}-frontend",
                         f'assumed_by eks_pod "{_cluster("serving")}" namespace "{team}" service_account "frontend"',
                         "passed_by ci_deployer to eks_pod", "admins [platform_admin]"))
        weights = f"weights_{t // TEAMS_PER_WEIGHTS_BUCKET:02d}"
        for j in range(DATASET_BUCKETS_PER_TEAM):
            dataset = (t * DATASET_BUCKETS_PER_TEAM + j) % n_datasets
            allows.append(f'allow {team}_training read datasets_{dataset:02d} "{prefix}" from train_vpc')
        allows += [
            f'allow {team}_training write {weights} "{prefix}checkpoints/" from train_vpc',
            f'allow {team}_training pull images_{(t + n_repos // 2) % n_repos:02d} from train_vpc',
            f'allow {team}_serving read {weights} "{prefix}released/" from serve_vpc',
            f'allow {team}_serving pull images_{t % n_repos:02d} from serve_vpc',
            f'allow {team}_frontend invoke chat_{t % n_endpoints:02d} from serve_vpc',
        ]
    for e in range(n_evaluators):
        out.append(_role(f"evaluator_{e:02d}", f"evaluation/evaluator-{e:02d}",
                         f'assumed_by eks_pod "{_cluster("evaluation", EVAL_ACCOUNT)}" namespace "evaluator-{e:02d}" '
                         'service_account "harness"', "passed_by eval_admin to eks_pod", "admins [eval_admin]",
                         account=EVAL_ACCOUNT))
        for k in range(TEAMS_PER_EVALUATOR_GRANTS):
            t = (e * TEAMS_PER_EVALUATOR + k) % teams
            allows.append(f'allow evaluator_{e:02d} read weights_{t // TEAMS_PER_WEIGHTS_BUCKET:02d} '
                          f'"team-{t:03d}/released/" from eval_vpc until "{UNTIL}"')
        allows.append(f'allow evaluator_{e:02d} write evaluation "evaluator-{e:02d}/" from eval_vpc until "{UNTIL}"')
    allows += [f"allow ci_deployer push images_{r:02d} from ci" for r in range(n_repos)]
    allows += [f'allow release_pipeline write weights_{b:02d} "index/" from ci' for b in range(n_weights)]
    allows.append('allow release_pipeline write artifacts "releases/" from ci')
    return "\n\n".join(out) + "\n\n" + "\n".join(allows) + "\n"


if __name__ == "__main__":
    import sys
    sys.stdout.write(platform(int(sys.argv[1]) if len(sys.argv) > 1 else 120))
