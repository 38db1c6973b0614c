"""Policy size quotas, as Access Analyzer's POLICY_SIZE_EXCEEDS_* checks.

AWS counts each policy kind its own way: IAM ignores whitespace (identity and trust
policies), Organizations counts the minified text, S3 and KMS count bytes, ECR and VPC
endpoints count the characters as submitted. The limits themselves live in slpc.policy.limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from slpc.policy.limits import RULES, SizeRule, count

from .registry import ROLE_TRUST, Context, FindingType, check


IDENTITY = "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA"
RESOURCE = "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA"
SCP = "POLICY_SIZE_EXCEEDS_SCP_QUOTA"
RCP = "POLICY_SIZE_EXCEEDS_RCP_QUOTA"
ROLE_TRUST_QUOTA = "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA"


@dataclass(frozen=True)
class SizeLimit:
    issue_code: str
    rule: SizeRule

    @property
    def limit(self) -> int:
        return self.rule.limit


# (policy type, resource type) -> the quota; the numbers and counting rules are
# slpc's one table of AWS size limits, slpc.policy.limits.RULES.
SIZE_LIMITS: dict[tuple[str, str | None], SizeLimit] = {
    ("identity", None): SizeLimit(IDENTITY, RULES["iam-managed-policy"]),
    ("resource", "AWS::S3::Bucket"): SizeLimit(RESOURCE, RULES["s3-bucket-policy"]),
    ("resource", "AWS::S3::AccessPoint"): SizeLimit(RESOURCE, RULES["s3-access-point-policy"]),
    ("resource", "AWS::KMS::Key"): SizeLimit(RESOURCE, RULES["kms-key-policy"]),
    ("resource", "AWS::ECR::Repository"): SizeLimit(RESOURCE, RULES["ecr-repository-policy"]),
    ("resource", "AWS::ApiGateway::RestApi"): SizeLimit(RESOURCE, RULES["apigateway-resource-policy"]),
    ("resource", ROLE_TRUST): SizeLimit(ROLE_TRUST_QUOTA, RULES["iam-role-trust-policy"]),
    ("vpc-endpoint", None): SizeLimit(RESOURCE, RULES["vpc-endpoint-policy"]),
    ("scp", None): SizeLimit(SCP, RULES["scp"]),
    ("rcp", None): SizeLimit(RCP, RULES["rcp"]),
}


def limit_for(policy_type: str, resource_type: str | None) -> SizeLimit | None:
    return SIZE_LIMITS.get((policy_type, resource_type))


def _exceeded(ctx: Context, code: str):
    rule = limit_for(ctx.policy_type, ctx.resource_type)
    if rule and rule.issue_code == code:
        size = count(rule.rule, ctx.text)
        if size > rule.limit:
            r = rule.rule
            yield "$", f"The policy is {size} {r.unit}, over the {r.limit} {r.unit} quota for a {r.what}."


@check(IDENTITY, FindingType.WARNING, "An identity policy over IAM's managed-policy size (whitespace not counted).")
def identity_size(ctx: Context):
    yield from _exceeded(ctx, IDENTITY)


@check(RESOURCE, FindingType.WARNING, "A resource or endpoint policy over its service's size quota.")
def resource_size(ctx: Context):
    yield from _exceeded(ctx, RESOURCE)


# A warning, as Access Analyzer's: Service Quotas raises the limit, which the text cannot show.
@check(ROLE_TRUST_QUOTA, FindingType.WARNING, "A role trust policy over IAM's default trust policy size (whitespace not counted).")
def role_trust_size(ctx: Context):
    yield from _exceeded(ctx, ROLE_TRUST_QUOTA)


@check(SCP, FindingType.ERROR, "An SCP over the Organizations size quota (minified).")
def scp_size(ctx: Context):
    yield from _exceeded(ctx, SCP)


@check(RCP, FindingType.ERROR, "An RCP over the Organizations size quota (minified).", access_analyzer=False)
def rcp_size(ctx: Context):
    yield from _exceeded(ctx, RCP)
