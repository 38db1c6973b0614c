"""The offline validator (slpc.verify.lint) on every compiled policy, as validate findings.

Its checks carry Access Analyzer's issue codes, so its findings merge with
ValidatePolicy's (`findings.merge_policy_findings`).
"""

from __future__ import annotations

from slpc.verify.lint import FindingType, lint

from .findings import LINT, SOURCE_LINT, Finding

# artifact kind -> (lint policy type, resource type or None)
LINT_TYPES: dict[str, tuple[str, str | None]] = {
    "iam-identity-policy": ("identity", None),
    "s3-bucket-policy": ("resource", "AWS::S3::Bucket"),
    "kms-key-policy": ("resource", "AWS::KMS::Key"),
    "ecr-repository-policy": ("resource", "AWS::ECR::Repository"),
    "apigateway-resource-policy": ("resource", "AWS::ApiGateway::RestApi"),
    "vpc-endpoint-policy": ("vpc-endpoint", None),
    "scp": ("scp", None),
    "rcp": ("rcp", None),
}
LEVELS = {FindingType.ERROR: "error", FindingType.SECURITY_WARNING: "error", FindingType.WARNING: "warning",
          FindingType.SUGGESTION: "note"}


def lint_findings(artifacts) -> list[Finding]:
    out: list[Finding] = []
    for art in artifacts:
        if art.document is None or art.kind not in LINT_TYPES:
            continue
        ptype, rtype = LINT_TYPES[art.kind]
        for f in lint(art.text, ptype, rtype):
            out.append(Finding(LINT, art.path, art.target, f"{f.finding_type.value} {f.issue_code} at {f.path}: "
                                                           f"{f.message}",
                               level=LEVELS[f.finding_type], source=SOURCE_LINT, code=f.issue_code,
                               sids=(f.sid,) if f.sid else (), statement=f.statement_index))
    return out
