"""Synthetic deployments of any size, written as `.slp` text, for benchmarks and tests.

    from benchmarks.synthetic import deployment
    text = deployment(1000, seed=0)      # 1,000 grants, deterministic for a seed

The shape is an organization of teams: each team has its own VPC (S3 and ECR
endpoints), a few roles, two buckets under a team key, a repository and an admin
role; a shared office CIDR is a second way in for some grants. About twenty
grants per team keep every per-resource policy (bucket, key, repository, VPC
endpoint) within AWS's limits at any size: the deployment grows by adding teams,
as real organizations do. The team VPCs have no KMS endpoint: every KMS endpoint's
policy lets every key's admins through, so with one key per team it would be the
first policy over its limit. What binds first when one team grows instead is in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import random

ACCOUNT = "111122223333"
GRANTS_PER_TEAM = 20
ROLES_PER_TEAM = 3
BUCKETS_PER_TEAM = 2
PREFIXES = ("", "p0/", "p1/", "p2/", "p3/", "p4/", "p5/")
BUCKET_VERBS = ("read", "write", "list", "delete")
REPO_VERBS = ("pull", "push")
UNTILS = (None, None, None, "2031-01-01T00:00:00Z")


def _hex(n: int, width: int) -> str:
    return format(n, "x").rjust(width, "0")


def _team(t: int, rng: random.Random) -> tuple[list[str], list[tuple]]:
    """Declarations of team t and the grant candidates (role, verb, asset, prefix)."""
    decls = [
        f"network team{t}_vpc {{\n  vpc \"vpc-{_hex(t, 17)}\"\n"
        + "".join(f"  endpoint {svc} \"vpce-{_hex(t * 8 + i, 17)}\"\n"
                  for i, svc in enumerate(("s3", "ecr.api", "ecr.dkr")))
        + "}",
        f"role team{t}_admin \"arn:aws:iam::{ACCOUNT}:role/team{t}-admin\"",
    ]
    roles = [f"team{t}_r{i}" for i in range(ROLES_PER_TEAM)]
    decls += [f"role {r} \"arn:aws:iam::{ACCOUNT}:role/team{t}-r{i}\"" for i, r in enumerate(roles)]
    decls.append(f"key team{t}_key {{\n  arn \"arn:aws:kms:eu-central-1:{ACCOUNT}:key/"
                 f"{_hex(t, 8)}-0000-4000-8000-{_hex(t, 12)}\"\n  admins [team{t}_admin]\n}}")
    candidates = []
    for b in range(BUCKETS_PER_TEAM):
        name = f"team{t}_b{b}"
        decls.append(f"bucket {name} {{\n  name \"acme-team{t}-bucket{b}\"\n  encrypt team{t}_key\n"
                     f"  admins [team{t}_admin]\n}}")
        candidates += [(r, v, name, p) for r in roles for v in BUCKET_VERBS for p in PREFIXES]
    repo = f"team{t}_repo"
    decls.append(f"repository {repo} {{\n  name \"acme/team{t}\"\n  admins [team{t}_admin]\n}}")
    candidates += [(r, v, repo, "") for r in roles for v in REPO_VERBS]
    rng.shuffle(candidates)
    # every team pulls its images: a repository without grants only draws a warning
    return decls, [(roles[0], "pull", repo, "")] + [c for c in candidates if c != (roles[0], "pull", repo, "")]


def deployment(grants: int, seed: int = 0, managed_policies: int | None = None, guardrails: bool = False) -> str:
    """A valid deployment with exactly `grants` allow lines (deterministic for a seed).

    Organization guardrails are off unless `guardrails`: the SCP lists every key and
    admin of the deployment in conditions that cannot be split, so it is the first
    policy over its limit as teams are added (see benchmarks/RESULTS.md)."""
    if grants < 1:
        raise ValueError("at least one grant")
    rng = random.Random(seed)
    teams = -(-grants // GRANTS_PER_TEAM)
    quota = f"  managed_policies_per_role {managed_policies}\n" if managed_policies else ""
    quota += "" if guardrails else "  guardrails []\n"
    out = [f"deployment \"synthetic-{grants}\" {{\n  partition \"aws\"\n  account   \"{ACCOUNT}\"\n"
           f"  org       \"o-a1b2c3d4e5\"\n  regions   [\"eu-central-1\"]\n{quota}}}",
           "network office {\n  cidr \"198.51.100.0/24\"\n}"]
    allows = []
    for t in range(teams):
        decls, candidates = _team(t, rng)
        out += decls
        want = min(GRANTS_PER_TEAM, grants - t * GRANTS_PER_TEAM)
        taken: dict[tuple[str, str], tuple] = {}
        for role, verb, asset, prefix in candidates:
            if len(allows) >= t * GRANTS_PER_TEAM + want:
                break
            nets = f"team{t}_vpc" + (", office" if rng.random() < 0.2 else "")
            until = rng.choice(UNTILS)
            # nested prefixes of one role on one bucket must share networks and expiry (E408):
            # the whole bucket ("") nests every prefix, so one (networks, until) per role and asset
            scope = taken.setdefault((role, asset), (nets, until))
            nets, until = scope
            where = f' "{prefix}"' if prefix else ""
            tail = f' until "{until}"' if until else ""
            allows.append(f"allow {role} {verb} {asset}{where} from {nets}{tail}")
    return "\n\n".join(out) + "\n\n" + "\n".join(allows) + "\n"
