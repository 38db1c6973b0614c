"""How long `slpc import` takes to decide today's access and write the draft, without AWS.

    python benchmarks/bench_import.py [TEAMS ...]     # default: 20 60 120

The shape is the one the brief names: shared buckets with a prefix per team; each team
has a SageMaker training role that uses its own prefix (its jobs' S3 URIs), and every
fifth team also an EKS role with no S3 URI of its own, which is asked under every team's
prefix (the costly case); three shared VPCs with S3 and SageMaker runtime endpoints; a
customer-managed key per bucket whose policy leaves its use to IAM. Identity policies
hold each role to its prefix (ListBucket by an `s3:prefix` condition). Reading AWS is
not timed (it is bound by the API); what is timed is `current_access` (the evaluator)
and `draft` + `format_spec`. Prints one line per size: CPU seconds, questions asked.
"""

from __future__ import annotations

import sys
import time

from slpc.dsl import format_spec
from slpc.verify.live import inventory as I
from slpc.verify.live.current_access import Today, current_access
from slpc.verify.live.draft import draft

ACCOUNT, REGION = "111122223333", "eu-central-1"
BUCKETS = 4
NETWORKS = 3


def _policy(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def inventory(teams: int) -> I.Inventory:
    buckets = [f"acme-shared-models-{b}" for b in range(BUCKETS)]
    keys = tuple(I.Key(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{b:08x}-0000-4000-8000-000000000000", REGION, _policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}),
        encrypts=(f"s3 bucket {name}",)) for b, name in enumerate(buckets))
    nets = tuple(I.Network(f"vpc-{n:017x}", REGION,
                           (("s3", f"vpce-{n:017x}", "gateway"), ("sagemaker.runtime", f"vpce-{n + 9:017x}", "interface")),
                           (f"subnet-{n:017x}",)) for n in range(NETWORKS))
    roles, workloads, locations = [], [], []
    for t in range(teams):
        prefix = f"team-{t:04d}/"
        for kind, name in [(I.TRAINING_JOB, f"team-{t:04d}-trainer")] + (
                [(I.EKS_POD, f"team-{t:04d}-serving")] if t % 5 == 0 else []):
            arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            objects = [f"arn:aws:s3:::{b}/{prefix}*" for b in buckets]
            identity = _policy(
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                 "Resource": objects},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
                 "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}}},
                {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [k.arn for k in keys]})
            roles.append(I.Role(arn, None, (("inline team", identity),), (f"{kind} {name}",)))
            workloads.append(I.Workload(kind, name, REGION, roles=(arn,), subnets=(f"subnet-{t % NETWORKS:017x}",)))
            if kind == I.TRAINING_JOB:
                locations += [I.Location(b, prefix, f"{kind} {name}", arn, writes=True) for b in buckets]
    bks = tuple(I.Bucket(b, REGION, "aws:kms", keys[i].arn, None, tuple(f"team-{t:04d}/" for t in range(teams)),
                         "its name", bucket_key=True) for i, b in enumerate(buckets))
    return I.Inventory(ACCOUNT, "aws", (REGION,), tuple(workloads), tuple(locations), bks, (), keys, tuple(roles),
                       networks=nets)


def main(sizes: list[int]) -> None:
    print(f"{'teams':>6} {'roles':>6} {'grants':>7} {'questions':>10} {'access s':>9} {'draft s':>8}")
    for teams in sizes:
        inv = inventory(teams)
        asked = []
        original = Today.allowed

        def counting(self, *args, **kw):
            asked.append(1)
            return original(self, *args, **kw)
        Today.allowed = counting
        try:
            start = time.process_time()
            accesses, exposures, admins, _ = current_access(inv)
            access_s = time.process_time() - start
        finally:
            Today.allowed = original
        start = time.process_time()
        format_spec(draft(inv, accesses, exposures, admins))
        draft_s = time.process_time() - start
        print(f"{teams:>6} {len(inv.roles):>6} {len(accesses):>7} {len(asked):>10,} {access_s:>9.2f} {draft_s:>8.2f}")


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [20, 60, 120])
