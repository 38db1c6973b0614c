"""ECR repository policies: image actions only for grantees, from their networks.

Repository policies apply to their own repository, so statements carry no
Resource element (as ECR documents them).
"""

from __future__ import annotations

from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Model
from slpc.diagnostics import Diagnostic, warning

from . import perimeter
from .denies import Entitlement, deny_outside_grants, deny_ungranted
from slpc.policy.document import PolicyDocument, Principal, Statement
from .grants import allow_statements, unique_sids, uses

SERVICES = V.ASSET_SERVICES["repository"]


def repository_policy(model: Model, asset: Asset) -> tuple[PolicyDocument, list[Diagnostic]]:
    grants = model.grants_on(asset.name)
    diags = [] if grants else [warning("W332", f"repository `{asset.name}` has no grants: its policy denies every "
                                               "image action", None, "grant `pull` or `push` to a role")]
    union = frozenset(n for g in grants for n in g.networks)
    ents = [Entitlement(u.grant.principal, a, "", u.grant.networks, u.grant.until)
            for u in uses(model, grants) if u.scope == V.REPOSITORY for a in u.actions]
    stmts = [Statement("Deny", actions=("ecr:*",), principal=Principal.any(), sid="DenyOutsideNetworks",
                       conditions=perimeter.outside(model, sorted(union), SERVICES) + perimeter.NOT_AWS_SERVICE)]
    stmts += deny_ungranted(model, V.ECR_IMAGE_ACTIONS, ents, lambda a: (), lambda a: "Image")
    stmts += deny_outside_grants(model, ents, SERVICES, lambda a: V.REPOSITORY,
                                 lambda kind, mode, prefixes: ((), (), ()))
    stmts.append(Statement("Deny", actions=tuple(sorted(V.ECR_PERIMETER_ACTIONS)), principal=Principal.any(),
                           conditions=perimeter.principal_is_not(model.principals[a].arn for a in asset.admins),
                           sid="DenyPerimeterChanges"))
    for use in uses(model, [g for g in grants if model.principals[g.principal].account != asset.account]):
        if use.scope == V.REPOSITORY:
            p = model.principals[use.grant.principal]
            stmts += allow_statements(model, use, principal=Principal.aws(p.arn), resources=(), sid_prefix=p.name)
    return PolicyDocument(unique_sids(stmts)), diags
