"""AWS policy size limits, each counted the way AWS counts it for that policy type.

The one table of limits in slpc (docs/policies.md cites it). Over a limit is a
compile error naming the statements that weigh most, never a truncated policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from slpc.dsl.diagnostics import Diagnostic, error

from .document import PolicyDocument, dumps, minify, statement_json


@dataclass(frozen=True)
class SizeRule:
    limit: int
    unit: str  # "characters" | "bytes"
    counting: str  # "no-whitespace" | "as-written" | "minified"
    what: str


RULES: dict[str, SizeRule] = {
    "iam-identity-policy": SizeRule(10240, "characters", "no-whitespace", "inline policies of one IAM role"),
    "iam-managed-policy": SizeRule(6144, "characters", "no-whitespace", "IAM managed policy"),
    "s3-bucket-policy": SizeRule(20480, "bytes", "as-written", "S3 bucket policy"),
    "kms-key-policy": SizeRule(32768, "bytes", "as-written", "KMS key policy"),
    "ecr-repository-policy": SizeRule(10240, "characters", "as-written", "ECR repository policy"),
    "vpc-endpoint-policy": SizeRule(20480, "characters", "as-written", "VPC endpoint policy"),
    "apigateway-resource-policy": SizeRule(8192, "characters", "as-written", "API Gateway resource policy"),
    "scp": SizeRule(5120, "characters", "minified", "service control policy"),
    "rcp": SizeRule(5120, "characters", "minified", "resource control policy"),
}

_WS = re.compile(r"\s")


def count(rule: SizeRule, text: str) -> int:
    """The size of policy text as AWS counts it for this rule (text must be JSON)."""
    if rule.counting == "minified":
        return len(json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False))
    if rule.counting == "no-whitespace":
        return len(_WS.sub("", text))
    return len(text.encode()) if rule.unit == "bytes" else len(text)


def measure(kind: str, doc: PolicyDocument) -> int:
    rule = RULES[kind]
    return count(rule, minify(doc) if rule.counting == "minified" else dumps(doc))


def check_size(kind: str, doc: PolicyDocument, label: str) -> Diagnostic | None:
    rule = RULES[kind]
    size = measure(kind, doc)
    if size <= rule.limit:
        return None
    weights = sorted(doc.statements, key=lambda s: -len(json.dumps(statement_json(s), separators=(",", ":"))))
    notes = []
    for s in weights[:3]:
        where = f" (from {s.origin.file}:{s.origin.line})" if s.origin is not None else ""
        notes.append(f"statement {s.sid}: {len(json.dumps(statement_json(s), separators=(',', ':')))} characters{where}")
    d = error("E501", f"the {rule.what} for {label} is {size:,} {rule.unit}, over AWS's limit of {rule.limit:,}",
              None, "split the grants over more roles or assets, or narrow the networks they list")
    return Diagnostic(d.severity, d.code, d.message, weights[0].origin if weights else None, d.hint, tuple(notes))
