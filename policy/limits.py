"""AWS policy size limits, each counted the way AWS counts it for that policy type.

The one table of limits in slpc (docs/policies.md cites it). Over a limit is a
compile error naming the grants that weigh most (targets/fit.py), never a truncated policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .document import PolicyDocument, dumps, minify


@dataclass(frozen=True)
class SizeRule:
    limit: int
    unit: str  # "characters" | "bytes"
    counting: str  # "no-whitespace" | "as-written" | "minified"
    what: str


RULES: dict[str, SizeRule] = {
    "iam-identity-policy": SizeRule(10240, "characters", "no-whitespace", "inline policies of one IAM role"),
    "iam-managed-policy": SizeRule(6144, "characters", "no-whitespace", "IAM managed policy"),
    # 2,048 by default; Service Quotas raises it to 4,096
    "iam-role-trust-policy": SizeRule(2048, "characters", "no-whitespace", "role trust policy"),
    "s3-bucket-policy": SizeRule(20480, "bytes", "as-written", "S3 bucket policy"),
    "s3-access-point-policy": SizeRule(20480, "bytes", "as-written", "S3 access point policy"),
    "kms-key-policy": SizeRule(32768, "bytes", "as-written", "KMS key policy"),
    "ecr-repository-policy": SizeRule(10240, "characters", "as-written", "ECR repository policy"),
    "vpc-endpoint-policy": SizeRule(20480, "characters", "as-written", "VPC endpoint policy"),
    "apigateway-resource-policy": SizeRule(8192, "characters", "as-written", "API Gateway resource policy"),
    "scp": SizeRule(5120, "characters", "minified", "service control policy"),
    "rcp": SizeRule(5120, "characters", "minified", "resource control policy"),
}


def count(rule: SizeRule, text: str) -> int:
    """The size of policy text as AWS counts it for this rule (text must be JSON)."""
    if rule.counting == "minified":
        return len(json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False))
    if rule.counting == "no-whitespace":
        # str.split() cuts at exactly the characters regex `\s` matches (str.isspace),
        # ten times faster than re.sub on a policy; every identity policy is counted
        return len("".join(text.split()))
    return len(text.encode()) if rule.unit == "bytes" else len(text)


def measure(kind: str, doc: PolicyDocument) -> int:
    """The size of the document as slpc writes it (its JSON file: the largest of its
    renderings), counted the way AWS counts this kind of policy."""
    rule = RULES[kind]
    return len(minify(doc)) if rule.counting == "minified" else count(rule, dumps(doc))
