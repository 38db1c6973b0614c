"""The artifact-kind table: what each kind of policy document is to the stages that
read it (which side of AWS's evaluation it sits on, how it is validated), so that
the evaluator, the prover, the offline validator and the report read one table
instead of keeping kind strings of their own. Size rules are in `limits.RULES`,
keyed by the same names; settings documents (bucket settings, trail selectors,
rules) are not policies and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where a policy sits in AWS's evaluation.
IDENTITY, RESOURCE, ENDPOINT, GUARDRAIL = "identity", "resource", "endpoint", "guardrail"


@dataclass(frozen=True)
class PolicyKind:
    name: str  # the manifest's `kind`
    side: str  # IDENTITY | RESOURCE | ENDPOINT | GUARDRAIL
    lint_type: str  # `slpc lint-policy --type` (Access Analyzer's policy type)
    resource_type: str | None = None  # Access Analyzer's validatePolicyResourceType, where it takes one


KINDS: dict[str, PolicyKind] = {k.name: k for k in (
    PolicyKind("iam-identity-policy", IDENTITY, "identity"),
    PolicyKind("iam-managed-policy", IDENTITY, "identity"),  # a role's policies split when they do not fit inline
    PolicyKind("s3-bucket-policy", RESOURCE, "resource", "AWS::S3::Bucket"),
    PolicyKind("kms-key-policy", RESOURCE, "resource", "AWS::KMS::Key"),
    PolicyKind("ecr-repository-policy", RESOURCE, "resource", "AWS::ECR::Repository"),
    PolicyKind("apigateway-resource-policy", RESOURCE, "resource", "AWS::ApiGateway::RestApi"),
    PolicyKind("vpc-endpoint-policy", ENDPOINT, "vpc-endpoint"),
    PolicyKind("scp", GUARDRAIL, "scp"),
    PolicyKind("rcp", GUARDRAIL, "rcp"),
)}


def of_side(side: str) -> frozenset[str]:
    return frozenset(k.name for k in KINDS.values() if k.side == side)


# How the offline validator (and ValidatePolicy) reads each policy kind.
LINT_TYPES = {k.name: (k.lint_type, k.resource_type) for k in KINDS.values()}
IDENTITY_KINDS = of_side(IDENTITY)
RESOURCE_KINDS = of_side(RESOURCE)
GUARDRAIL_KINDS = of_side(GUARDRAIL)
