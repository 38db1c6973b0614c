"""IAM identity policies: one per declared role that has grants, duties or trust paths.

Grants become network- and time-conditioned Allows (targets/grants.py); duties
(admin, breakglass) become configuration-only Allows on the resources they manage;
passing or assuming another role of the spec becomes iam:PassRole / sts:AssumeRole on
exactly that role (targets/trust.py).
"""

from __future__ import annotations

from slpc.compiler import verbs as V
from slpc.compiler.model import Model, Principal

from slpc.policy.document import PolicyDocument, Statement
from .grants import allow_statements, ap_resources, sid, unique_sids, uses
from .trust import obtain_statements


def duty_statements(model: Model, role: str) -> list[Statement]:
    out: list[Statement] = []
    keys, assets = model.duties_of(role)
    for key in keys:
        if role in key.admins:
            out.append(Statement("Allow", actions=tuple(sorted(V.KMS_ADMIN_ACTIONS)), resources=(key.arn,),
                                 sid=sid("Administer", key.name)))
    for asset in assets:
        if role in asset.admins:
            out.append(Statement("Allow", actions=tuple(sorted(V.ASSET_KINDS[asset.kind].admin_actions)), resources=(asset.arn,),
                                 sid=sid("Administer", asset.name)))
        if role in asset.breakglass:  # through its access point, on a bucket reached through them
            ap = model.access_points(asset.name).get(role)
            objects = ap_resources(ap, V.OBJECT) if ap else (f"{asset.arn}/*",)
            out.append(Statement("Allow", actions=tuple(sorted(V.S3_BREAKGLASS_ACTIONS)),
                                 resources=objects, sid=sid("Breakglass", asset.name)))
    return out


def integration_statements(model: Model, role: str) -> list[Statement]:
    """An API stage's integration role: invoke its backend, from API Gateway, nothing else.
    No network condition: API Gateway calls from its own network, never a VPC endpoint."""
    backend = model.backend_of(role)
    if backend is None:
        return []
    return [Statement("Allow", actions=V.INTEGRATION_ACTIONS, resources=(model.assets[backend].arn,),
                      sid=sid("Invoke", backend, "ThroughItsApi"))]


def identity_policy(model: Model, principal: Principal) -> PolicyDocument | None:
    """The role's identity policy, or None when the spec gives it nothing."""
    grants = model.grants_of(principal.name)
    statements: list[Statement] = []
    for use in uses(model, grants):
        statements += allow_statements(model, use)
    statements += duty_statements(model, principal.name)
    statements += obtain_statements(model, principal.name)
    statements += integration_statements(model, principal.name)
    if not statements:
        return None
    return PolicyDocument(unique_sids(statements))
