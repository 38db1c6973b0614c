"""API Gateway resource policies for private APIs: invoke only by grantees, only
through the network's execute-api endpoints.

One policy per REST API (a policy belongs to the API, not to a stage), covering
every stage the spec declares. Methods must use AWS_IAM
authorization (callers sign with role credentials), or the policy's principal
conditions are meaningless -- except on a stage with a Cognito authorizer, whose
statements name no principal (`pool_users_statements`).
"""

from __future__ import annotations

from dataclasses import replace

from slpc.compiler import routes
from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Model

from . import perimeter
from .denies import Entitlement, deny_outside_grants, deny_ungranted
from slpc.policy.document import PolicyDocument, Principal, Statement
from .grants import allow_statements, sid, unique_sids, uses

SERVICES = V.ASSET_SERVICES["api"]


def policy_target(model: Model, asset: Asset) -> str:
    """Where the policy attaches: the REST API (apigateway), not an execute-api ARN."""
    return f"arn:{model.deployment.partition}:apigateway:{asset.region}::/restapis/{asset.resource_name}"


def api_policy(model: Model, stages: list[Asset]) -> PolicyDocument:
    """The resource policy of one API, for all its declared stages."""
    names = {a.name for a in stages}
    grants = model.grants_on(*sorted(names))
    union = model.api_networks(stages[0].resource_name)
    everything = tuple(sorted(f"{a.arn}/*" for a in stages))
    stmts = [Statement("Deny", actions=("execute-api:*",), resources=everything, principal=Principal.any(),
                       sid="DenyOutsideNetworks", conditions=perimeter.outside(model, union, SERVICES))]
    for asset in stages:
        if asset.authorizer is not None:
            stmts += pool_users_statements(model, asset, union)
            continue
        g_here = [g for g in grants if g.asset == asset.name]
        ents = [Entitlement(u.grant.principal, a, u.grant.prefix, u.grant.networks, u.grant.until)
                for u in uses(model, g_here) for a in u.actions]
        here = (f"{asset.arn}/*",)
        stmts += deny_ungranted(model, ("execute-api:Invoke",), ents, lambda a: here, lambda a: asset.name)
        others = tuple(f"{a.arn}/*" for a in stages if a is not asset)
        stmts += deny_outside_grants(model, ents, SERVICES, lambda a: V.API, _target(asset, others), routes.contains)
        stmts += _allows(model, g_here, here)
    return PolicyDocument(unique_sids(stmts))


def _allows(model: Model, grants, stage: tuple[str, ...]) -> list[Statement]:
    """Each grantee's Allow, on the whole stage: its routes are held by the denies above
    (`OutsidePrefixes` names them, as NotResource, for a grantee without a whole-stage
    grant; `OutsideGrant` holds each route to its networks and expiry, which E344 keeps
    apart for overlapping routes), so naming the routes' ARNs here too would only double
    the policy's size (7 methods x 2 ARNs a route of `ANY`) against its 8,192 characters.
    Grants of one grantee with the same networks and expiry share one Allow."""
    out: list[Statement] = []
    for use in uses(model, grants):
        p = model.principals[use.grant.principal]
        whole = use._replace(grant=replace(use.grant, prefix=""))
        for s in allow_statements(model, whole, principal=Principal.aws(p.arn), resources=stage, sid_prefix=p.name):
            if s not in out:
                out.append(s)
    return out


def pool_users_statements(model: Model, stage: Asset, union: list[str]) -> list[Statement]:
    """A stage whose callers a Cognito user pool authorizes (compiler/authorizers.py): their
    requests carry the pool's token, not a role's signature, so no statement can name them.
    Anyone may invoke it through its users' networks' execute-api endpoints; the authorizer
    decides who among them. Nothing here names a principal that would lock them out."""
    nets = sorted(stage.authorizer.networks)
    here = (f"{stage.arn}/*",)
    out = []
    if nets != union:  # the API's other stages are reached from other networks too
        out.append(Statement("Deny", actions=("execute-api:*",), resources=here, principal=Principal.any(),
                             sid=sid("Deny", stage.name, "OutsideItsUsersNetworks"),
                             conditions=perimeter.outside(model, nets, SERVICES)))
    for suffix, conditions in perimeter.inside(model, nets, SERVICES):
        out.append(Statement("Allow", actions=("execute-api:Invoke",), resources=here, principal=Principal.any(),
                             sid=sid("Allow", stage.name, "PoolUsers", suffix), conditions=conditions))
    return out


def _target(stage: Asset, others: tuple[str, ...]):
    """Resources of a stage's routes: "within" names them; "limit" names everything but
    them and the API's other stages (each limited by its own statements), as NotResource."""
    def target(kind: str, mode: str, prefixes: tuple[str, ...]):
        named = tuple(sorted({p for r in prefixes for p in routes.patterns(stage.arn, r)}))
        if mode == "limit":
            return (), (), tuple(sorted(named + others))
        return named or (f"{stage.arn}/*",), (), ()
    return target
