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
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from slpc.policy.limits import RULES, measure
from .access_points import access_point_pattern
from .grants import ap_resources, sid, unique_sids
from .artifact import Artifact
from .optimize import optimize

KIND = "vpc-endpoint-policy"

def _resources(model: Model, asset: Asset, scope: str, who: str) -> tuple[str, ...]:
    """The ARNs an action of this scope names: objects, or the asset itself; through an
    access point, S3 asks the endpoint policy about both the access point and the bucket."""
    ap = model.access_points(asset.name).get(who) if asset.kind == "bucket" else None
    through = ap_resources(ap, V.OBJECT if scope == V.OBJECT else V.BUCKET) if ap else ()
    if scope == V.OBJECT or V.ASSET_KINDS[asset.kind].reach == V.PARTS:
        return (f"{asset.arn}/*",) + through
    return (asset.arn,) + through


def _whole(resource: str) -> str:
    """An object pattern's bucket, access point or asset: `b/*` -> `b`, `ap/object/*` -> `ap`."""
    return resource.removesuffix("/*").removesuffix("/object") if ":accesspoint/" in resource \
        else resource.removesuffix("/*")


def granted(model: Model, net: Network, service: str) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    """(principal name, resources) -> the actions of its grants through this network."""
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    kinds = V.kinds_reached_through(service)
    for g in model.grants_from(net.name):
        asset = model.assets[g.asset]
        if asset.kind not in kinds:
            continue
        for action, scope in V.VERBS[(asset.kind, g.verb)].actions:
            if scope == V.KEY_VIA_S3:
                continue  # S3 calls KMS itself, not through this endpoint
            out[(g.principal, ("*",) if scope == V.ACCOUNT else _resources(model, asset, scope, g.principal))].add(action)
    return out


def duties(model: Model, net: Network, service: str) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    """(principal name, resources) -> its admin and breakglass actions through this network."""
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    kinds = V.kinds_reached_through(service)
    # duties act from the asset's networks only: the assets some grant reaches through this network
    for asset in (model.assets[name] for name in dict.fromkeys(g.asset for g in model.grants_from(net.name))):
        if asset.kind not in kinds:
            continue
        admin_actions = V.ASSET_KINDS[asset.kind].admin_actions
        for a in asset.admins:  # configuration: the bucket or repository itself, never through an access point
            out[(a, (asset.arn,) if asset.kind == "bucket" else _resources(model, asset, V.BUCKET, a))].update(admin_actions)
        for b in asset.breakglass:  # object versions
            out[(b, _resources(model, asset, V.OBJECT, b))].update(V.S3_BREAKGLASS_ACTIONS)
    if service == "kms":
        for key in model.keys.values():
            for a in key.admins:
                out[(a, (key.arn,))].update(V.KMS_ADMIN_ACTIONS)
    return out


def _merged(nets: list[Network], model: Model, service: str, *parts) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for part in parts:
        for net in nets:
            for key, actions in part(model, net, service).items():
                out[key] |= actions
    return out


def _regrouped(entries: dict[tuple[str, tuple[str, ...]], set[str]], coarsen: "Patterns"):
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (who, resources), actions in entries.items():
        out[(who, tuple(coarsen.resources(resources)))] |= actions
    return out


def _per_principal(model: Model, entries: dict[tuple[str, tuple[str, ...]], set[str]],
                   coarsen: "Patterns | None" = None) -> list[Statement]:
    """Allows naming their principals: the same principal and actions over several
    resources merge, then several principals with the same actions and resources.
    With `coarsen`, each also pins the resources' accounts."""
    by_actions: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (who, resources), actions in entries.items():
        by_actions[(who, tuple(sorted(actions)))].update(resources)
    by_principals: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (who, actions), resources in by_actions.items():
        by_principals[(actions, tuple(sorted(resources)))].add(who)
    pinned = (coarsen.condition,) if coarsen is not None else ()
    return [Statement("Allow", actions=actions, resources=resources, principal=Principal.any(),
                      conditions=(perimeter.principal_is(model.principals[n].arn for n in names),)
                      + (pinned if resources != ("*",) else ()),
                      sid=sid("Allow", *sorted(names)))
            for (actions, resources), names in sorted(by_principals.items(), key=lambda kv: (sorted(kv[1]), kv[0]))]


def _account_wide(model: Model, entries: dict[tuple[str, tuple[str, ...]], set[str]],
                  coarsen=None) -> list[Statement]:
    """The grants' data actions on the grants' assets for any principal of the grantees'
    accounts: exact together with the resource policies, which deny every data action to
    all but its grantees and each grantee outside its prefixes, networks and expiry.
    `coarsen`: a `Patterns` that names the resources more briefly (and pins their accounts)."""
    if not entries:
        return []
    accounts = sorted({model.principals[who].account for who, _ in entries})
    actions = sorted({a for acts in entries.values() for a in acts})
    named = {r for _, rs in entries for r in rs} | {_whole(r) for _, rs in entries for r in rs}
    # a bucket's access points by the pattern the SCP guards: one entry, not one per grantee
    patterns: dict[str, str] = {}
    for r in sorted(r for r in named if ":accesspoint/" in r and r == _whole(r)):
        if r not in patterns:
            bucket = model.assets[model.access_point_at(r).bucket]
            pattern = access_point_pattern(model, bucket)
            patterns |= dict.fromkeys((ap.arn for ap in model.access_points(bucket.name).values()), pattern)
    resources = sorted({patterns.get(_whole(r), r) for r in named})
    conditions = (Condition("StringEquals", "aws:PrincipalAccount", tuple(accounts)),)
    if coarsen is not None:
        resources, conditions = coarsen.resources(resources), conditions + (coarsen.condition,)
    return [Statement("Allow", actions=tuple(actions), resources=tuple(resources), principal=Principal.any(),
                      conditions=conditions, sid="AllowGrantsToTheGranteesAccounts")]


class Patterns:
    """S3 resources by bucket-name pattern, for an endpoint whose account-wide policy still
    does not fit: the buckets whose names differ only in a trailing number share one
    pattern (`arn:aws:s3:::acme-ml-weights-*`, which covers their objects too), every
    access point of the buckets' accounts is one entry per region (S3 also asks the
    endpoint policy about the bucket behind it, which must match), and `aws:ResourceAccount`
    keeps them to the deployment's accounts. Coarser, and stated: another bucket of those
    accounts whose name matches a pattern is reachable through the endpoint too."""

    def __init__(self, model: Model):
        buckets = model.assets_of("bucket")
        stems: dict[str, list[Asset]] = defaultdict(list)
        for b in buckets:
            stems[b.resource_name.rstrip("0123456789")].append(b)
        self.by_arn: dict[str, str] = {}
        for stem, group in stems.items():
            if len(group) > 1 and len(stem) >= 3 and len(stem) < len(group[0].resource_name):
                pattern = f"arn:{model.deployment.partition}:s3:::{stem}*"
                self.by_arn |= {r: pattern for b in group for r in (b.arn, f"{b.arn}/*")}
        self.accounts = tuple(sorted({b.account for b in buckets}))
        self.condition = Condition("StringEquals", "aws:ResourceAccount", self.accounts)
        self.names = sorted(set(self.by_arn.values()))

    def resources(self, resources) -> list[str]:
        return sorted({self._one(r) for r in resources})

    def _one(self, r: str) -> str:
        if ":accesspoint/" in r:
            return r.split(":accesspoint/", 1)[0] + ":accesspoint/*"
        return self.by_arn.get(r, r)


# How a patterned endpoint policy's `coarser` continues (fit.py rebuilds by it).
PATTERNED = "names buckets by pattern "


# Endpoint services whose resource policies keep every grant exact by themselves, so
# their endpoint policies may name accounts instead of principals when those do not fit:
# service -> (the assets, the resource policies that decide who).
ACCOUNT_WIDE_SERVICES = {"s3": ("buckets", "bucket"), "ecr.api": ("repositories", "repository"),
                         "ecr.dkr": ("repositories", "repository")}


def endpoint_policy(model: Model, nets: list[Network], service: str,
                    account_wide: bool = False, by_pattern: bool = False) -> tuple[PolicyDocument, list[Diagnostic]]:
    """The policy of one endpoint, which may sit in several networks (W324): each
    principal named, or (`account_wide`) the grants' principals by their accounts, and
    (`by_pattern`, S3 only) the buckets by name pattern within their accounts."""
    if account_wide:  # no resource policy guards an account-scope action (`*`): those stay named
        coarsen = Patterns(model) if by_pattern else None
        grants = _merged(nets, model, service, granted)
        named = _merged(nets, model, service, duties) | {k: v for k, v in grants.items() if k[1] == ("*",)}
        if coarsen is not None:  # duties keep their principals; their buckets go by pattern too
            named = _regrouped(named, coarsen)
        stmts = _per_principal(model, named, coarsen) + _account_wide(
            model, {k: v for k, v in grants.items() if k[1] != ("*",)}, coarsen)
    else:
        stmts = _per_principal(model, _merged(nets, model, service, granted, duties))
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
        name = f"{nets[0].name}.{service}"
        doc, more = endpoint_policy(model, nets, service)
        coarser = None
        exact = measure(KIND, optimize(doc))
        if exact > RULES[KIND].limit and service in ACCOUNT_WIDE_SERVICES:
            doc, more = endpoint_policy(model, nets, service, account_wide=True)
            accounts = ", ".join(sorted({model.principals[w].account for n in nets for w, _ in granted(model, n, service)}))
            assets, policies = ACCOUNT_WIDE_SERVICES[service]
            coarser = (f"lets any principal of account{'s' if ', ' in accounts else ''} {accounts} use the grants' "
                       f"data actions on the grants' {assets}; the {policies} policies decide who")
            more.append(warning("W351", f"the endpoint policy for `{name}` names accounts, not principals", None,
                                f"naming each of its grantees takes {exact:,} characters, over AWS's limit of "
                                f"{RULES[KIND].limit:,}: it {coarser}"))
            wide = measure(KIND, optimize(doc))
            if wide > RULES[KIND].limit and service == "s3":
                doc = endpoint_policy(model, nets, service, account_wide=True, by_pattern=True)[0]
                coarsen = Patterns(model)
                coarser = f"{coarser}; {PATTERNED}{', '.join(coarsen.names)} in account" \
                          f"{'s' * (len(coarsen.accounts) > 1)} {', '.join(coarsen.accounts)}"
                more.append(warning(
                    "W356", f"the endpoint policy for `{name}` names buckets by pattern", None,
                    f"naming each of its buckets takes {wide:,} characters, over AWS's limit of "
                    f"{RULES[KIND].limit:,}: it {coarser}; any other bucket so named in those accounts is "
                    "reachable through this endpoint too"))
        arts.append(Artifact(KIND, vpce, nets[0].account, f"vpce/{vpce}.json", name, doc, coarser=coarser))
        diags += more
    return arts, diags

