"""What is wider today than the draft: `slpc validate`'s drift, on the draft's policies.

The draft is compiled; its policies on the found assets and roles (bucket,
repository and key policies, the roles' identity and trust policies, the VPC
endpoints' policies) are compared with what is deployed by `Validator`, the body of
`slpc validate`, with the same probes. Each `extra-access` drift is a request the
deployed policies allow and the draft does not: a principal that reaches an asset
beyond the draft's grants, with the request that shows it. Being validate's own
comparison, it lists what `slpc validate` of the compiled draft reports as extra
access on those policies, including its count of the extra-access groups beyond the
five shown per policy (a finding of the same code, `not_shown` set). Placeholders (a
key or role the draft made up) exist nowhere and are not compared; the organization
guardrails are not about the found assets and are left out too.
"""

from __future__ import annotations

from .draft import PLACEHOLDER_ADMIN, PLACEHOLDER_KEY
from .compare import EXTRA
from .findings import Finding
from .validate import Validator

KINDS = ("s3-bucket-policy", "ecr-repository-policy", "kms-key-policy", "iam-identity-policy", "iam-managed-policy",
         "iam-role-trust-policy", "vpc-endpoint-policy")


def placeholder(target: str) -> bool:
    return target.endswith("/" + PLACEHOLDER_ADMIN) or target.endswith("/" + PLACEHOLDER_KEY)


def compared(artifacts) -> list:
    """The draft's artifacts that are compared: its policies on real assets and roles."""
    return [a for a in artifacts if a.kind in KINDS and not placeholder(a.target)]


def wider(fetcher, account: str, others: dict, model, artifacts, progress=None) -> list[Finding]:
    """Every extra-access finding of the draft's compared policies, in artifact order:
    the drifts shown and, per policy, the count of those left out."""
    report = Validator(fetcher, account, others, model=model).run(compared(artifacts), progress=progress)
    return [f for f in report.findings if f.code == EXTRA]
