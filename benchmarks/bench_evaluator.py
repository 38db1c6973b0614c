"""Decisions per second of slpc.verify.evaluate on a realistic policy set.

    python benchmarks/bench_evaluator.py [BUILD_DIR]

With BUILD_DIR, the policies come from BUILD_DIR/manifest.json (identity,
bucket, repository and key policies) and requests are generated from what those
policies mention: their actions, resources and condition values, with each
condition key sometimes matching, sometimes not, sometimes absent. Without it,
a built-in data-perimeter bucket policy and identity policy are used.
Policies are compiled before timing; requests are built before timing.
"""

from __future__ import annotations

import ipaddress
import json
import random
import sys
import time
from pathlib import Path

from slpc.policy.document import PolicyDocument, from_json
from slpc.verify.evaluate import Evaluator
from slpc.verify.request import Request

MAX_PAIRS = 2_000
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
BUCKET = "arn:aws:s3:::models-prod"
ROLES = [f"arn:aws:iam::{ACCOUNT}:role/team-{i}" for i in range(10)]
VPCES = ["vpce-0a1b2c3d", "vpce-1a2b3c4d"]
CIDRS = ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _stmt(sid: str, effect: str, action: object, resource: object, condition: dict | None = None, **extra: object) -> dict:
    out = {"Sid": sid, "Effect": effect, "Action": action, **extra}
    if resource is not None:
        out["NotResource" if sid.startswith("NotRes") else "Resource"] = resource
    if condition:
        out["Condition"] = condition
    return out


def builtin_bucket_policy() -> dict:
    """About 25 statements in the shape of a data-perimeter bucket policy."""
    objs = f"{BUCKET}/*"
    deny = dict(Principal="*")
    stmts = [
        _stmt("DenyInsecureTransport", "Deny", "s3:*", [BUCKET, objs], {"Bool": {"aws:SecureTransport": "false"}}, **deny),
        _stmt("DenyOldTls", "Deny", "s3:*", [BUCKET, objs], {"NumericLessThan": {"s3:TlsVersion": "1.2"}}, **deny),
        _stmt("DenyOutsideNetwork", "Deny", "s3:*", [BUCKET, objs], {
            "StringNotEqualsIfExists": {"aws:SourceVpce": VPCES},
            "NotIpAddressIfExists": {"aws:SourceIp": CIDRS},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false"},
        }, **deny),
        _stmt("DenyUnlistedPrincipals", "Deny", "s3:*", [BUCKET, objs], {
            "ArnNotEquals": {"aws:PrincipalArn": ROLES},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        }, **deny),
        _stmt("DenyAfterExpiry", "Deny", "s3:*", [BUCKET, objs], {"DateGreaterThanEquals": {"aws:CurrentTime": "2031-01-01T00:00:00Z"}}, **deny),
        _stmt("DenyOutsideOrg", "Deny", "s3:*", [BUCKET, objs], {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}, **deny),
        _stmt("NotResWritesOutsidePrefixes", "Deny", ["s3:PutObject", "s3:DeleteObject"],
              [f"{BUCKET}/models/*", f"{BUCKET}/checkpoints/*", f"{BUCKET}/eval/*"], **deny),
        _stmt("DenyUnencryptedPut", "Deny", "s3:PutObject", objs, {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}, **deny),
        _stmt("DenyWrongKey", "Deny", "s3:PutObject", objs, {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY}}, **deny),
        _stmt("DenySseC", "Deny", "s3:PutObject", objs, {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}, **deny),
        _stmt("DenyPolicyChanges", "Deny", ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl",
              "s3:PutReplicationConfiguration", "s3:PutBucketPublicAccessBlock"], [BUCKET, objs],
              {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}}, **deny),
        _stmt("DenyGovernanceBypass", "Deny", "s3:BypassGovernanceRetention", objs, None, **deny),
        _stmt("DenyLockChanges", "Deny", ["s3:PutObjectRetention", "s3:PutObjectLegalHold"], objs,
              {"NumericLessThan": {"s3:object-lock-remaining-retention-days": "30"}}, **deny),
        _stmt("DenyDeleteBucket", "Deny", "s3:DeleteBucket", BUCKET, None, **deny),
        _stmt("DenyForeignRegion", "Deny", "s3:*", [BUCKET, objs], {"StringNotEqualsIfExists": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}, **deny),
    ]
    for i, role in enumerate(ROLES):
        prefix = ["models", "checkpoints", "eval"][i % 3]
        actions = ["s3:GetObject", "s3:GetObjectVersion"] if i % 2 else ["s3:GetObject", "s3:PutObject"]
        stmts.append(_stmt(f"Team{i}Objects", "Allow", actions, f"{BUCKET}/{prefix}/*", None, Principal={"AWS": role}))
    stmts[-1] = _stmt("TeamsList", "Allow", "s3:ListBucket", BUCKET, {"StringLike": {"s3:prefix": ["models/*", "eval/*"]}},
                      Principal={"AWS": ROLES})
    return {"Version": "2012-10-17", "Statement": stmts}


def builtin_identity_policy() -> dict:
    """About 10 statements: S3, KMS, ECR, SageMaker, with a few guard Denies."""
    return {"Version": "2012-10-17", "Statement": [
        _stmt("Read", "Allow", ["s3:GetObject", "s3:GetObjectVersion"], [f"{BUCKET}/models/*", f"{BUCKET}/eval/*"]),
        _stmt("Write", "Allow", "s3:PutObject", f"{BUCKET}/checkpoints/${{aws:PrincipalTag/team}}/*"),
        _stmt("List", "Allow", "s3:ListBucket", BUCKET, {"StringLike": {"s3:prefix": ["models/*", "checkpoints/*"]}}),
        _stmt("Key", "Allow", ["kms:Decrypt", "kms:GenerateDataKey"], KEY, {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}),
        _stmt("EcrAuth", "Allow", "ecr:GetAuthorizationToken", "*"),
        _stmt("EcrPull", "Allow", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
              f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/llm/*"),
        _stmt("Invoke", "Allow", "sagemaker:InvokeEndpoint*", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:endpoint/llm-*"),
        _stmt("DenyOffNetwork", "Deny", "*", "*", {
            "StringNotEqualsIfExists": {"aws:SourceVpce": VPCES}, "NotIpAddressIfExists": {"aws:SourceIp": CIDRS},
            "BoolIfExists": {"aws:ViaAWSService": "false"}}),
        _stmt("DenyIam", "Deny", ["iam:*", "organizations:*"], "*"),
        _stmt("DenyNoMfaDeletes", "Deny", "s3:DeleteObject*", "*", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
    ]}


def builtin_requests(n: int, rng: random.Random) -> list[Request]:
    actions = ["s3:GetObject"] * 6 + ["s3:PutObject"] * 3 + ["s3:ListBucket"] * 2 + [
        "s3:GetObjectVersion", "s3:DeleteObject", "s3:PutBucketPolicy", "s3:PutObjectRetention"]
    principals = ROLES * 3 + [f"arn:aws:iam::{ACCOUNT}:role/intruder", f"arn:aws:iam::{OTHER_ACCOUNT}:role/team-0"]
    out = []
    for _ in range(n):
        action = rng.choice(actions)
        resource = BUCKET if action == "s3:ListBucket" else f"{BUCKET}/{rng.choice(['models'] * 3 + ['checkpoints', 'eval', 'tmp'])}/w{rng.randrange(50)}.bin"
        ctx: dict[str, object] = {
            "aws:SecureTransport": rng.random() > 0.02,
            "s3:TlsVersion": rng.choice(["1.2", "1.3", "1.3", "1.3", "1.3", "1.1"]),
            "aws:CurrentTime": rng.choice(["2025-06-01T12:00:00Z", "2032-01-01T00:00:00Z"] + ["2026-02-02T10:00:00Z"] * 18),
            "aws:RequestedRegion": rng.choice(["eu-west-1"] * 9 + ["us-east-1"]),
            "aws:PrincipalOrgID": "o-abc123",
            "aws:PrincipalTag/team": "a",
        }
        if rng.random() < 0.6:
            ctx["aws:SourceVpce"] = rng.choice(VPCES * 4 + ["vpce-ffff"])
        else:
            ctx["aws:SourceIp"] = rng.choice(["203.0.113.7", "198.51.100.9", "2001:db8::5"] * 3 + ["192.0.2.1"])
        if action == "s3:ListBucket":
            ctx["s3:prefix"] = rng.choice(["models/", "eval/x", "secret/"])
        if action == "s3:PutObject":
            ctx["s3:x-amz-server-side-encryption"] = rng.choice(["aws:kms", "aws:kms", "AES256"])
            ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = KEY
        principal = rng.choice(principals)
        out.append(Request(principal, action, resource, resource_account=ACCOUNT, context=ctx))
    return out


# --------------------------------------------------------------------------- #
# Build directories


def _sample_value(operator: str, value: str, rng: random.Random) -> str:
    """A context value that this policy value matches (roughly), for realism."""
    if "IpAddress" in operator:
        net = ipaddress.ip_network(value, strict=False)
        return str(net.network_address + min(1, net.num_addresses - 1))
    return value.replace("*", "x").replace("?", "y")


# Keys a Request derives from its caller and resource; generated contexts leave them alone.
_FILLED_BY_REQUEST = {"aws:principalarn", "aws:principalaccount", "aws:principalisawsservice", "aws:resourceaccount"}


def _benign_value(effect: str, operator: str, values: tuple[str, ...], rng: random.Random) -> str | None:
    """A context value under which this condition lets ordinary traffic through:
    an Allow's condition holds, a Deny's condition fails. None: leave the key out."""
    if effect == "Allow" or "Not" in operator:
        return _sample_value(operator, rng.choice(values), rng)
    if operator.startswith("Null"):
        return None if "false" in values else "present"
    if operator.startswith("Bool"):
        return "true" if values[0].lower() == "false" else "false"
    return "other" if operator.endswith("IfExists") else None


def _manifest_workload(build: Path, n: int, rng: random.Random) -> tuple[list[tuple[Evaluator, Request]], int]:
    manifest = json.loads((build / "manifest.json").read_text())
    identity: dict[str, list[tuple[str, PolicyDocument]]] = {}
    resources: list[tuple[str, str, tuple[str, PolicyDocument]]] = []  # (target ARN, account, labelled policy)
    def load(art: dict) -> tuple[str, PolicyDocument]:
        return art.get("name") or art["path"], from_json(json.loads((build / art["path"]).read_text()))

    for art in manifest["artifacts"]:  # settings documents are not policies
        if art["kind"] in ("iam-identity-policy", "iam-managed-policy"):
            identity.setdefault(art["target"], []).append(load(art))
        elif art["kind"] in ("s3-bucket-policy", "ecr-repository-policy", "kms-key-policy"):
            resources.append((art["target"], art["account"], load(art)))
    roles = sorted(identity) or [f"arn:aws:iam::{ACCOUNT}:role/nobody"]
    targets = resources or [(BUCKET, ACCOUNT, None)]
    evaluators: dict[tuple[str, str], Evaluator] = {}
    mentioned: dict[tuple[str, str], tuple[list, list]] = {}
    work = []
    # A bounded set of (caller, resource) pairs, as in a running system: for a large
    # deployment, one pair per request would time policy compilation, not decisions.
    pairs = [(rng.choice(roles), rng.choice(targets)) for _ in range(min(n, MAX_PAIRS))]
    for _ in range(n):
        role, (target, account, labelled) = rng.choice(pairs)
        key = (role, target)
        if key not in evaluators:
            evaluators[key] = Evaluator(identity=identity.get(role, []), resource=labelled)
            # the actions and condition values these policies mention
            docs = [d for _, d in identity.get(role, [])] + ([labelled[1]] if labelled else [])
            mentioned[key] = (
                sorted({a for d in docs for s in d.statements for a in s.actions if "*" not in a}) or ["s3:GetObject"],
                [(s.effect, c.operator, c.key, c.values) for d in docs for s in d.statements for c in s.conditions
                 if c.key.lower() not in _FILLED_BY_REQUEST])
        actions, conditions = mentioned[key]
        doc = labelled[1] if labelled else None
        service = target.split(":")[2]
        same_service = [a for a in actions if a.startswith(service + ":")] or actions
        named = [r for s in (doc.statements if doc else ()) for r in s.resources if r.startswith(target)]
        resource = _sample_value("", rng.choice(named), rng) if named else target
        ctx: dict[str, str] = {}
        for effect, operator, cond_key, values in conditions:
            roll = rng.random()
            value = _benign_value(effect, operator, values, rng) if roll < 0.9 else rng.choice([None, "other", values[0]])
            if value is None:
                ctx.pop(cond_key, None)
            else:
                ctx[cond_key] = value
        work.append((evaluators[key], Request(role, rng.choice(same_service), resource, resource_account=account, context=ctx)))
    return work, len(evaluators)


def run(build: Path | None, n: int = 50_000, seed: int = 7) -> float:
    rng = random.Random(seed)
    if build is None:
        evaluator = Evaluator(identity=[("identity", from_json(builtin_identity_policy()))],
                              resource=("bucket", from_json(builtin_bucket_policy())))
        work = [(evaluator, r) for r in builtin_requests(n, rng)]
        label = "built-in set: 25-statement bucket policy, 10-statement identity policy"
    else:
        work, count = _manifest_workload(build, n, rng)
        label = f"{build}/manifest.json: {count} policy sets"
    for ev, req in work:  # warm the per-(action, caller) caches: the figure is the steady state
        ev.evaluate(req)
    effects: dict[str, int] = {}
    start = time.perf_counter()
    for ev, req in work:
        d = ev.evaluate(req)
        effects[d.effect] = effects.get(d.effect, 0) + 1
    elapsed = time.perf_counter() - start
    rate = len(work) / elapsed
    print(f"{label}\n{len(work)} decisions in {elapsed:.3f}s: {rate:,.0f} decisions/second ({effects})")
    return rate


if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
