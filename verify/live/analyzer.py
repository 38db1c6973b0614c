"""IAM Access Analyzer `ValidatePolicy` on every compiled policy (online, read-only).

Each artifact kind maps to its `policyType` and, where AWS has one, its
`validatePolicyResourceType` (none for KMS, ECR, VPC endpoint and API Gateway
policies). Pagination is followed through `nextToken`. Findings become `Finding`s
with source "access-analyzer".
"""

from __future__ import annotations

from .findings import ANALYZER, CANNOT_VERIFY, SOURCE_ANALYZER, Finding

# artifact kind -> (policyType, validatePolicyResourceType or None)
POLICY_TYPES: dict[str, tuple[str, str | None]] = {
    "iam-identity-policy": ("IDENTITY_POLICY", None),
    "s3-bucket-policy": ("RESOURCE_POLICY", "AWS::S3::Bucket"),
    "kms-key-policy": ("RESOURCE_POLICY", None),
    "ecr-repository-policy": ("RESOURCE_POLICY", None),
    "vpc-endpoint-policy": ("RESOURCE_POLICY", None),
    "apigateway-resource-policy": ("RESOURCE_POLICY", None),
    "scp": ("SERVICE_CONTROL_POLICY", None),
    "rcp": ("RESOURCE_CONTROL_POLICY", None),
}
LEVELS = {"ERROR": "error", "SECURITY_WARNING": "error", "WARNING": "warning", "SUGGESTION": "note"}


def request_for(art) -> dict:
    policy_type, resource_type = POLICY_TYPES[art.kind]
    req = {"policyDocument": art.text, "policyType": policy_type, "locale": "EN"}
    if resource_type:
        req["validatePolicyResourceType"] = resource_type
    return req


def _where(f: dict) -> str:
    for loc in f.get("locations") or []:
        parts = []
        for el in loc.get("path") or []:
            if "index" in el:
                parts.append(f"[{el['index']}]")
            elif "value" in el or "key" in el:  # an object key on the path
                parts.append(f".{el.get('value', el.get('key'))}")
            elif "substring" in el:
                parts.append(f"[{el['substring'].get('start')}:+{el['substring'].get('length')}]")
        if parts:
            return "".join(parts).lstrip(".")
    return ""


def validate(client, artifacts) -> list[Finding]:
    """ValidatePolicy on each policy artifact; a failing call is a "cannot verify" finding."""
    from botocore.exceptions import ClientError

    out: list[Finding] = []
    for art in artifacts:
        if art.document is None or art.kind not in POLICY_TYPES:
            continue
        req = request_for(art)
        token = None
        while True:
            try:
                resp = client.validate_policy(**req, **({"nextToken": token} if token else {}))
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "error")
                msg = ("cannot verify: needs access-analyzer:ValidatePolicy" if "AccessDenied" in code
                       else f"cannot verify: Access Analyzer ValidatePolicy failed with {code}")
                out.append(Finding(CANNOT_VERIFY, art.path, art.target, msg, source=SOURCE_ANALYZER,
                                   code="cannot-verify"))
                break
            for f in resp.get("findings", []):
                where = _where(f)
                out.append(Finding(ANALYZER, art.path, art.target,
                                   f"{f['findingType']} {f['issueCode']}{' at ' + where if where else ''}: "
                                   f"{f.get('findingDetails', '')}",
                                   level=LEVELS.get(f["findingType"], "warning"), source=SOURCE_ANALYZER,
                                   code=f["issueCode"]))
            token = resp.get("nextToken")
            if not token:
                break
    return out
