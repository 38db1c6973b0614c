"""IAM Access Analyzer on the compiled and deployed policies (online, read-only).

`validate`: `ValidatePolicy` on every compiled policy. Each artifact kind maps to
its `policyType` and, where AWS has one, its `validatePolicyResourceType` (none
for KMS, ECR, VPC endpoint and API Gateway policies; a role trust policy is a
resource policy of type `AWS::IAM::AssumeRolePolicyDocument`, so the checks of
trust policies run on it). Pagination is followed through `nextToken`.

`custom_checks`: `CheckNoPublicAccess` on the compiled and the deployed bucket,
key, REST API and role trust policies, and `CheckNoNewAccess` of each deployed
resource and identity policy against the compiled one (the deployed policy must
grant nothing the compiled one does not). `scan_roles`: `CheckAccessNotGranted` of every other
role's policies against the data actions on the spec's assets. The custom checks
are charged per call by AWS. Findings carry source "access-analyzer".
"""

from __future__ import annotations

from typing import Callable, Sequence

from slpc.compiler import verbs as V

from .findings import ANALYZER, CANNOT_VERIFY, DRIFT, SOURCE_ANALYZER, Finding

# artifact kind -> (policyType, validatePolicyResourceType or None)
POLICY_TYPES: dict[str, tuple[str, str | None]] = {
    "iam-identity-policy": ("IDENTITY_POLICY", None),
    "iam-managed-policy": ("IDENTITY_POLICY", None),
    "iam-role-trust-policy": ("RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument"),
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


def _statement(f: dict) -> int | None:
    for loc in f.get("locations") or []:
        path = loc.get("path") or []
        if len(path) > 1 and path[0].get("value") == "Statement" and "index" in path[1]:
            return path[1]["index"]
    return None


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
                                   code=f["issueCode"], statement=_statement(f)))
            token = resp.get("nextToken")
            if not token:
                break
    return out


# --------------------------------------------------------------------------- #
# Custom policy checks (charged per call)

# artifact kind -> CheckNoPublicAccess resourceType (the kinds AWS can judge public)
PUBLIC_TYPES = {"s3-bucket-policy": "AWS::S3::Bucket", "kms-key-policy": "AWS::KMS::Key",
                "apigateway-resource-policy": "AWS::ApiGateway::RestApi",
                "iam-role-trust-policy": "AWS::IAM::AssumeRolePolicyDocument"}
NO_NEW_ACCESS_KINDS = {"iam-identity-policy", "iam-role-trust-policy", "s3-bucket-policy", "kms-key-policy",
                       "ecr-repository-policy", "apigateway-resource-policy"}
MAX_ITEMS = 100  # CheckAccessNotGranted: at most 100 actions and 100 resources per call


def _reasons(resp: dict) -> tuple[str, tuple[str, ...]]:
    parts, sids = [], []
    for r in resp.get("reasons") or []:
        where = r.get("statementId") or (f"statement #{r['statementIndex']}" if "statementIndex" in r else "")
        parts.append(f"{r.get('description', '')}{' (' + where + ')' if where else ''}")
        if r.get("statementId"):
            sids.append(r["statementId"])
    text = "; ".join(p for p in parts if p) or resp.get("message", "")
    return text, tuple(dict.fromkeys(sids))


def _call(client, op: str, art_path: str, target: str, **params) -> tuple[dict | None, Finding | None]:
    from botocore.exceptions import ClientError

    try:
        return getattr(client, op)(**params), None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        name = "".join(w.capitalize() for w in op.split("_"))
        msg = (f"cannot verify: needs access-analyzer:{name}" if "AccessDenied" in code
               else f"cannot verify: Access Analyzer {name} failed with {code}")
        return None, Finding(CANNOT_VERIFY, art_path, target, msg, source=SOURCE_ANALYZER, code="cannot-verify")


def custom_checks(client, artifacts, deployed: dict[str, str]) -> list[Finding]:
    """CheckNoPublicAccess (compiled and deployed) and CheckNoNewAccess (deployed
    against compiled); `deployed` maps artifact paths to the deployed policy text."""
    out: list[Finding] = []
    for art in artifacts:
        if art.document is None:
            continue
        if art.kind in PUBLIC_TYPES:
            for side, text in (("compiled", art.text), ("deployed", deployed.get(art.path))):
                if text is None:
                    continue
                resp, problem = _call(client, "check_no_public_access", art.path, art.target,
                                      policyDocument=text, resourceType=PUBLIC_TYPES[art.kind])
                if problem or resp["result"] == "FAIL":
                    why, sids = _reasons(resp or {})
                    out.append(problem or Finding(ANALYZER, art.path, art.target,
                                                  f"the {side} policy grants public access: {why}",
                                                  source=SOURCE_ANALYZER, code="CheckNoPublicAccess", sids=sids))
        if art.kind in NO_NEW_ACCESS_KINDS and deployed.get(art.path) is not None:
            ptype = POLICY_TYPES[art.kind][0]
            resp, problem = _call(client, "check_no_new_access", art.path, art.target,
                                  existingPolicyDocument=art.text, newPolicyDocument=deployed[art.path],
                                  policyType=ptype)
            if problem or resp["result"] == "FAIL":
                why, sids = _reasons(resp or {})
                out.append(problem or Finding(DRIFT, art.path, art.target,
                                              f"the deployed policy grants access the compiled one does not: {why}",
                                              source=SOURCE_ANALYZER, code="CheckNoNewAccess", sids=sids))
    return out


def data_access(model) -> list[tuple[list[str], list[str]]]:
    """(actions, resources) of the data actions on the spec's assets, one pair per
    asset kind (and key), each list at most MAX_ITEMS long."""
    groups: list[tuple[list[str], list[str]]] = []
    for kind in V.ASSET_KINDS.values():
        assets = model.assets_of(kind.name)
        if assets:
            arns = [arn for a in assets for arn in (() if kind.reach == V.PARTS else (a.arn,))
                    + (() if kind.reach == V.SELF else (f"{a.arn}/*",))]
            groups.append((sorted(set(kind.data_actions)), sorted(arns)))
        if kind.name == "bucket" and model.keys:  # keys next: the findings' order follows the calls'
            groups.append((sorted(V.KMS_CRYPTO_ACTIONS), sorted(k.arn for k in model.keys.values())))
    return [(acts[i:i + MAX_ITEMS], res[j:j + MAX_ITEMS])
            for acts, res in groups for i in range(0, len(acts), MAX_ITEMS) for j in range(0, len(res), MAX_ITEMS)]


def scan_roles(client, policies: Sequence[tuple[str, str, str]], access: Sequence[tuple[list[str], list[str]]],
               announce: Callable[[int], None]) -> list[Finding]:
    """CheckAccessNotGranted of each (role ARN, policy label, policy text) against each
    access chunk; `announce(calls)` runs before the first (charged) call."""
    announce(len(policies) * len(access))
    out: list[Finding] = []
    for role, label, text in policies:
        where = f"iam/{role.split(':')[4]}/{role.rsplit('/', 1)[1]}"  # a role the spec does not name
        for actions, resources in access:
            resp, problem = _call(client, "check_access_not_granted", where, role,
                                  policyDocument=text, policyType="IDENTITY_POLICY",
                                  access=[{"actions": actions, "resources": resources}])
            if problem or resp["result"] == "FAIL":
                why, sids = _reasons(resp or {})
                out.append(problem or Finding(ANALYZER, where, role,
                                              f"role not in the spec: {label} grants data access to the "
                                              f"spec's assets: {why}",
                                              source=SOURCE_ANALYZER, code="CheckAccessNotGranted", sids=sids))
    return out

