"""VPC endpoint policies: through a network's endpoints, only the spec's principals
reach the spec's assets, and only for what the spec lets them do there.

A role inside the VPC therefore cannot copy weights to a bucket outside the spec
through the endpoint, nor use the endpoint for anything the spec does not name.
The bucket, key and repository policies still enforce prefixes and expiry; the
endpoint policy is the coarse who/what/where filter in front of them.
"""

from __future__ import annotations

from collections import defaultdict

from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Model, Network
from slpc.diagnostics import Diagnostic, warning

from . import perimeter
from slpc.policy.document import PolicyDocument, Principal, Statement
from .grants import sid, unique_sids
from .artifact import Artifact

def _resources(asset: Asset, scope: str) -> tuple[str, ...]:
    """The ARNs an action of this scope names: objects, or the asset itself."""
    if scope == V.OBJECT or V.ASSET_KINDS[asset.kind].reach == V.PARTS:
        return (f"{asset.arn}/*",)
    return (asset.arn,)


def allowed(model: Model, net: Network, service: str) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    """(principal name, resources) -> actions the endpoint lets through."""
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    kinds = V.kinds_reached_through(service)
    through = model.grants_from(net.name)
    for g in through:
        asset = model.assets[g.asset]
        if asset.kind not in kinds:
            continue
        for action, scope in V.VERBS[(asset.kind, g.verb)].actions:
            if scope == V.KEY_VIA_S3:
                continue  # S3 calls KMS itself, not through this endpoint
            out[(g.principal, ("*",) if scope == V.ACCOUNT else _resources(asset, scope))].add(action)
    # duties act from the asset's networks only: the assets some grant reaches through this network
    for asset in (model.assets[name] for name in dict.fromkeys(g.asset for g in through)):
        if asset.kind not in kinds:
            continue
        admin_actions = V.ASSET_KINDS[asset.kind].admin_actions
        for a in asset.admins:  # configuration: the bucket or repository itself
            out[(a, _resources(asset, V.BUCKET))].update(admin_actions)
        for b in asset.breakglass:  # object versions
            out[(b, _resources(asset, V.OBJECT))].update(V.S3_BREAKGLASS_ACTIONS)
    if service == "kms":
        for key in model.keys.values():
            for a in key.admins:
                out[(a, (key.arn,))].update(V.KMS_ADMIN_ACTIONS)
    return out


def endpoint_policy(model: Model, nets: list[Network], service: str) -> tuple[PolicyDocument, list[Diagnostic]]:
    """The policy of one endpoint, which may sit in several networks (W324)."""
    grants: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for net in nets:
        for key, actions in allowed(model, net, service).items():
            grants[key] |= actions
    # merge: same principal and actions over several resources, then several principals
    by_actions: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (who, resources), actions in grants.items():
        by_actions[(who, tuple(sorted(actions)))].update(resources)
    by_principals: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (who, actions), resources in by_actions.items():
        by_principals[(actions, tuple(sorted(resources)))].add(who)
    stmts = []
    for (actions, resources), names in sorted(by_principals.items(), key=lambda kv: (sorted(kv[1]), kv[0])):
        stmts.append(Statement("Allow", actions=actions, resources=resources, principal=Principal.any(),
                               conditions=(perimeter.principal_is(model.principals[n].arn for n in names),),
                               sid=sid("Allow", *sorted(names))))
    if service == "s3" and any(svc in ("ecr.api", "ecr.dkr") for net in nets for svc, _ in net.endpoints):
        # image layers are served from S3: without this, pulls through ECR break
        layers = tuple(f"arn:{model.deployment.partition}:s3:::prod-{r}-starport-layer-bucket/*"
                       for r in model.deployment.regions)
        stmts.append(Statement("Allow", actions=("s3:GetObject",), resources=layers, principal=Principal.any(),
                               sid="AllowEcrImageLayers"))
    diags = []
    if not stmts:
        diags.append(warning("W350", f"no grant uses the {service} endpoint of network `{nets[0].name}`", None,
                             "its policy lets nothing through; remove the endpoint or grant through it"))
        stmts.append(Statement("Deny", actions=("*",), resources=("*",), principal=Principal.any(),
                               sid="DenyEverything"))
    return PolicyDocument(unique_sids(stmts)), diags


def endpoint_artifacts(model: Model):
    """One policy per declared endpoint of a service slpc models."""
    where: dict[tuple[str, str], list[Network]] = defaultdict(list)
    for net in model.networks.values():
        for service, vpce in net.endpoints:
            if service in V.POLICED_ENDPOINT_SERVICES:
                where[(vpce, service)].append(net)
    arts, diags = [], []
    for (vpce, service), nets in sorted(where.items()):
        doc, more = endpoint_policy(model, nets, service)
        arts.append(Artifact("vpc-endpoint-policy", vpce, nets[0].account, f"vpce/{vpce}.json",
                             f"{nets[0].name}.{service}", doc))
        diags += more
    return arts, diags

