"""VPC endpoint policies: through a network's endpoints, only the spec's principals
reach the spec's assets, and only for what the spec lets them do there.

A role inside the VPC therefore cannot copy weights to a bucket outside the spec
through the endpoint, nor use the endpoint for anything the spec does not name.
The bucket, key and repository policies still enforce prefixes and expiry; the
endpoint policy is the coarse who/what/where filter in front of them.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

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
from .patterns import family_patterns

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


def _union(*parts: dict[tuple[str, tuple[str, ...]], set[str]]) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    out: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for part in parts:
        for key, actions in part.items():
            out[key] |= actions
    return out


class _Uses:
    """What one endpoint lets through, over all the networks it sits in: read by each
    form of its policy and by the warning that states a form, so computed once (at
    10,000 grants, a network's grants take a tenth of a second to walk)."""

    def __init__(self, model: Model, nets: list[Network], service: str):
        self.model, self.nets, self.service = model, nets, service

    @cached_property
    def grants(self) -> dict[tuple[str, tuple[str, ...]], set[str]]:
        return _union(*(granted(self.model, net, self.service) for net in self.nets))

    @cached_property
    def duties(self) -> dict[tuple[str, tuple[str, ...]], set[str]]:
        return _union(*(duties(self.model, net, self.service) for net in self.nets))


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
    pinned = coarsen.conditions if coarsen is not None else ()
    return [Statement("Allow", actions=actions, resources=resources, principal=Principal.any(),
                      conditions=(perimeter.principal_is(model.principals[n].arn for n in names),)
                      + (pinned if resources != ("*",) else ()),
                      sid=sid("Allow", *sorted(names)))
            for (actions, resources), names in sorted(by_principals.items(), key=lambda kv: (sorted(kv[1]), kv[0]))]


def _account_wide(model: Model, entries: dict[tuple[str, tuple[str, ...]], set[str]],
                  coarsen=None, sid: str = "AllowGrantsToTheGranteesAccounts") -> list[Statement]:
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
        resources, conditions = coarsen.resources(resources), conditions + coarsen.conditions
    return [Statement("Allow", actions=tuple(actions), resources=tuple(resources), principal=Principal.any(),
                      conditions=conditions, sid=sid)]


class Patterns:
    """Resources by name pattern, for an endpoint whose account-wide policy still does not
    fit: the buckets (or repositories) whose names differ only in a trailing number share
    one pattern (`arn:aws:s3:::acme-ml-weights-*`, which covers their objects too). For
    buckets, every access point of their accounts is one entry per region (S3 also asks
    the endpoint policy about the bucket behind it, which must match), and
    `aws:ResourceAccount` keeps them to the deployment's accounts (a bucket ARN names no
    account; a repository's does). Coarser, and stated: another bucket or repository of
    those accounts whose name matches a pattern is reachable through the endpoint too."""

    def __init__(self, model: Model, kind: str = "bucket"):
        assets = model.assets_of(kind)
        self.by_arn = family_patterns(r for a in assets for r in ((a.arn, f"{a.arn}/*") if kind == "bucket"
                                                                   else (a.arn,)))
        self.accounts = tuple(sorted({a.account for a in assets}))
        self.conditions = (Condition("StringEquals", "aws:ResourceAccount", self.accounts),) if kind == "bucket" \
            else ()
        self.names = sorted(set(self.by_arn.values()))

    def resources(self, resources) -> list[str]:
        return sorted({self._one(r) for r in resources})

    def _one(self, r: str) -> str:
        if ":accesspoint/" in r:
            return r.split(":accesspoint/", 1)[0] + ":accesspoint/*"
        return self.by_arn.get(r, r)


# The forms an endpoint policy takes, each tried when the one before does not fit:
# each principal named; the grantees by their accounts (exact with the resource
# policies, W351; for SageMaker, which has none, a stated gap, W357); then S3 buckets
# by name pattern (W356) or ECR's account-scope token by account (W357).
EXACT, ACCOUNTS, PATTERNS, TOKENS = "exact", "accounts", "patterns", "tokens"
FORMS = {"s3": (EXACT, ACCOUNTS, PATTERNS), "ecr.api": (EXACT, ACCOUNTS, TOKENS),
         "ecr.dkr": (EXACT, ACCOUNTS, TOKENS), "sagemaker.runtime": (EXACT, ACCOUNTS)}

# Endpoint services whose resource policies keep every grant exact by themselves, so
# their endpoint policies may name accounts instead of principals when those do not fit:
# service -> (the assets, the resource policies that decide who).
ACCOUNT_WIDE_SERVICES = {"s3": ("buckets", "bucket"), "ecr.api": ("repositories", "repository"),
                         "ecr.dkr": ("repositories", "repository")}


def _by_guard(grants: dict[tuple[str, tuple[str, ...]], set[str]], service: str):
    """(the grants' actions that the assets' resource policies deny to every principal
    without a grant, the rest). Only the first may go to the grantees' whole accounts:
    the rest (GetBucketLocation of `list`, ECR's account-scope token), which no
    resource policy keeps to its grantees, keep their principals named."""
    data = {a for kind in V.kinds_reached_through(service) for a in V.ASSET_KINDS[kind].data_actions}
    guarded: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    loose: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for key, actions in grants.items():
        for part, acts in ((guarded, actions & data), (loose, actions - data)):
            if acts:
                part[key] = acts
    return guarded, loose


def endpoint_policy(model: Model, nets: list[Network], service: str, form: str = EXACT,
                    uses: _Uses | None = None) -> tuple[PolicyDocument, list[Diagnostic]]:
    """The policy of one endpoint, which may sit in several networks (W324), in one of
    its service's `FORMS`."""
    uses = uses or _Uses(model, nets, service)
    if form == EXACT:
        stmts = _per_principal(model, _union(uses.grants, uses.duties))
    else:
        coarsen = Patterns(model) if form == PATTERNS else Patterns(model, "repository") if form == TOKENS else None
        guarded, loose = _by_guard(uses.grants, service)
        scoped = {k: v for k, v in loose.items() if k[1] == ("*",)}  # account-scope: no resource policy guards it
        named = _union(uses.duties, {k: v for k, v in loose.items() if k[1] != ("*",)},
                       {} if form == TOKENS else scoped)
        if coarsen is not None:  # duties keep their principals; their buckets go by pattern too
            named = _regrouped(named, coarsen)
        stmts = _per_principal(model, named, coarsen) + _account_wide(model, guarded, coarsen)
        if form == TOKENS and scoped:
            stmts += _account_wide(model, scoped, sid="AllowAccountScopeToTheGranteesAccounts")
    stmts += _pool_users(model, nets, service)
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


def _pool_users(model: Model, nets: list[Network], service: str) -> list[Statement]:
    """Through an execute-api endpoint of a network that a stage's Cognito authorizer names:
    anyone may invoke that stage (its callers carry the pool's token, not a role's signature;
    the authorizer decides who). Nothing else of the stage, nothing of any other stage."""
    if service not in V.ASSET_SERVICES["api"]:
        return []
    names = {n.name for n in nets}
    stages = [a for a in model.assets_of("api") if a.authorizer and names & set(a.authorizer.networks)]
    return [Statement("Allow", actions=("execute-api:Invoke",), resources=(f"{a.arn}/*",), principal=Principal.any(),
                      sid=sid("Allow", a.name, "PoolUsers")) for a in sorted(stages, key=lambda a: a.name)]


def allowed_forms(service: str, nets: list[Network]) -> tuple[str, ...]:
    """The service's ladder as far as its networks' `endpoint_policies` allow (the
    strictest of the networks an endpoint sits in): `exact` names each principal,
    `no_gaps` stops before a form no resource policy keeps exact (W357)."""
    forms = FORMS.get(service, (EXACT,))
    modes = {n.endpoint_policies for n in nets}
    if "exact" in modes:
        return (EXACT,)
    if "no_gaps" in modes:
        return tuple(f for f in forms if _exact_with_resource_policies(service, f))
    return forms


def _exact_with_resource_policies(service: str, form: str) -> bool:
    return form in (EXACT, PATTERNS) or (form == ACCOUNTS and service in ACCOUNT_WIDE_SERVICES)


def _accounts(model: Model, uses: _Uses) -> str:
    accounts = sorted({model.principals[w].account for w, _ in uses.grants})
    return f"account{'s' * (len(accounts) > 1)} {', '.join(accounts)}"


def _stated(model: Model, uses: _Uses, service: str, form: str) -> tuple[str, str, str]:
    """(code, what the warning says, the `coarser` clause) of a form other than EXACT."""
    accounts = _accounts(model, uses)
    if form == ACCOUNTS and service in ACCOUNT_WIDE_SERVICES:
        assets, policies = ACCOUNT_WIDE_SERVICES[service]
        return ("W351", "names accounts, not principals",
                f"lets any principal of {accounts} use the grants' data actions on the grants' {assets}; "
                f"the {policies} policies decide who")
    if form == ACCOUNTS:
        return ("W357", "names accounts, not principals, and no resource policy decides who",
                f"lets any principal of {accounts} invoke the grants' endpoints through it; a SageMaker endpoint "
                "has no resource policy, so for principals outside the spec the SCP decides who, and where no "
                "SCP applies (W533, W534) IAM alone (a gap)")
    if form == PATTERNS:
        p = Patterns(model)
        return ("W356", "names buckets by pattern",
                f"{PATTERNED}{', '.join(p.names)} in account{'s' * (len(p.accounts) > 1)} {', '.join(p.accounts)}: "
                "any other bucket so named there is reachable through it too")
    p = Patterns(model, "repository")
    named = f"; {PATTERNED.replace('buckets', 'repositories')}{', '.join(p.names)}" if p.names else ""
    return ("W357", "names accounts for ECR's authorization token, and no resource policy decides who",
            f"{TOKENED}{accounts}; a token is account-scope and no resource policy guards it, so for principals "
            "outside the spec IAM alone decides who gets one here (a gap); pulls and pushes still meet this "
            f"policy's repository statements and the repository policies{named}")


# How a form's `coarser` clause begins, where the form is not named otherwise (fit.py rebuilds by it).
PATTERNED = "names buckets by pattern "
TOKENED = "lets any principal get an ECR authorization token through it if of "


def form_of(coarser: str | None) -> str:
    """The form of an endpoint policy built by `endpoint_artifacts`, from its `coarser`."""
    if not coarser:
        return EXACT
    return PATTERNS if PATTERNED in coarser else TOKENS if TOKENED in coarser else ACCOUNTS


def endpoint_artifacts(model: Model):
    """One policy per declared endpoint of a service slpc models, in the first of its
    service's forms that fits; each coarser form is stated (a warning and `coarser`)."""
    where: dict[tuple[str, str], list[Network]] = defaultdict(list)
    for net in model.networks.values():
        for service, vpce in net.endpoints:
            if service in V.POLICED_ENDPOINT_SERVICES:
                where[(vpce, service)].append(net)
    arts, diags = [], []
    for (vpce, service), nets in sorted(where.items()):
        name = f"{nets[0].name}.{service}"
        clauses: list[str] = []
        forms = allowed_forms(service, nets)
        uses = _Uses(model, nets, service)
        doc, more = endpoint_policy(model, nets, service, uses=uses)
        for form in forms[1:]:
            doc = optimize(doc)
            size = measure(KIND, doc)
            if size <= RULES[KIND].limit:
                break
            doc = endpoint_policy(model, nets, service, form, uses)[0]
            code, what, clause = _stated(model, uses, service, form)
            clauses.append(clause)
            more.append(warning(code, f"the endpoint policy for `{name}` {what}", None,
                                f"its previous form takes {size:,} characters, over AWS's limit of "
                                f"{RULES[KIND].limit:,}: it {clause}"))
        arts.append(Artifact(KIND, vpce, nets[0].account, f"vpce/{vpce}.json", name, doc,
                             coarser="; ".join(clauses) or None))
        diags += more
    return arts, diags
