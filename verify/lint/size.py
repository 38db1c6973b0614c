"""Policy size quotas. Every limit and its counting rule lives in SIZE_LIMITS.

AWS counts each policy kind its own way: IAM ignores whitespace, Organizations
counts the minified text, S3 and KMS count bytes, ECR and VPC endpoints count the
characters as submitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from .registry import Context, FindingType, check


def minified_chars(ctx: Context) -> int:
    return len(json.dumps(ctx.doc, separators=(",", ":"), ensure_ascii=False))


def submitted_chars(ctx: Context) -> int:
    return len(ctx.text)


def submitted_bytes(ctx: Context) -> int:
    return len(ctx.text.encode("utf-8"))


@dataclass(frozen=True)
class SizeLimit:
    issue_code: str
    limit: int
    unit: str
    count: Callable[[Context], int]
    what: str


IDENTITY = "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA"
RESOURCE = "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA"
SCP = "POLICY_SIZE_EXCEEDS_SCP_QUOTA"
RCP = "POLICY_SIZE_EXCEEDS_RCP_QUOTA"

# (policy type, resource type) -> the quota. The one place slpc states a size limit.
SIZE_LIMITS: dict[tuple[str, str | None], SizeLimit] = {
    ("identity", None): SizeLimit(IDENTITY, 6144, "characters", minified_chars, "IAM managed policy, whitespace not counted"),
    ("resource", "AWS::S3::Bucket"): SizeLimit(RESOURCE, 20 * 1024, "bytes", submitted_bytes, "S3 bucket policy"),
    ("resource", "AWS::KMS::Key"): SizeLimit(RESOURCE, 32768, "bytes", submitted_bytes, "KMS key policy"),
    ("resource", "AWS::ECR::Repository"): SizeLimit(RESOURCE, 10240, "characters", submitted_chars, "ECR repository policy"),
    ("resource", "AWS::ApiGateway::RestApi"): SizeLimit(RESOURCE, 8192, "characters", submitted_chars, "API Gateway resource policy"),
    ("vpc-endpoint", None): SizeLimit(RESOURCE, 20480, "characters", submitted_chars, "VPC endpoint policy, whitespace counted"),
    ("scp", None): SizeLimit(SCP, 5120, "characters", minified_chars, "service control policy, minified"),
    ("rcp", None): SizeLimit(RCP, 5120, "characters", minified_chars, "resource control policy, minified"),
}


def limit_for(policy_type: str, resource_type: str | None) -> SizeLimit | None:
    return SIZE_LIMITS.get((policy_type, resource_type))


def _exceeded(ctx: Context, code: str):
    rule = limit_for(ctx.policy_type, ctx.resource_type)
    if rule and rule.issue_code == code:
        size = rule.count(ctx)
        if size > rule.limit:
            yield "$", f"The policy is {size} {rule.unit}, over the {rule.limit} {rule.unit} quota for a {rule.what}."


@check(IDENTITY, FindingType.WARNING, "An identity policy over IAM's managed-policy size (whitespace not counted).")
def identity_size(ctx: Context):
    yield from _exceeded(ctx, IDENTITY)


@check(RESOURCE, FindingType.WARNING, "A resource or endpoint policy over its service's size quota.")
def resource_size(ctx: Context):
    yield from _exceeded(ctx, RESOURCE)


@check(SCP, FindingType.ERROR, "An SCP over the Organizations size quota (minified).")
def scp_size(ctx: Context):
    yield from _exceeded(ctx, SCP)


@check(RCP, FindingType.ERROR, "An RCP over the Organizations size quota (minified).", access_analyzer=False)
def rcp_size(ctx: Context):
    yield from _exceeded(ctx, RCP)
