"""The draft spec of `slpc import`: an Inventory and today's access as a `dsl.ast.Spec`.

The draft is an AST, printed by `dsl.format_spec` like any spec; its comments are
AST comments placed on the lines of the declarations they explain. Where the
account does not say what the spec needs, the draft says so in a `# TODO` comment
and uses a placeholder that grants nothing anyone holds: a documentation address
range (192.0.2.0/24, TEST-NET-1, routed nowhere) for a network, an all-zero key
ARN, a role named `TODO-...`. Everything is sorted, so the same account gives the
same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slpc.compiler.trust import EKS_POD, IRSA, TRUSTED_SERVICES, kubernetes_way_ok
from slpc.diagnostics import Span
from slpc.dsl import ast

from . import eks, inventory as I
from .current_access import Access, Exposure

FILE = "draft.slp"
PLACEHOLDER_CIDR = "192.0.2.0/24"  # TEST-NET-1 (RFC 5737): documentation only, no request comes from it
PLACEHOLDER_KEY = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_ADMIN = "TODO-key-admin"
SERVICE_WAYS = {s.principal: name for name, s in TRUSTED_SERVICES.items()}
CONFUSED_DEPUTY_KEYS = {"aws:sourceaccount", "aws:sourcearn"}
DEFAULT_TYPE = {"s3": "gateway"}  # every other endpoint service is an interface endpoint by default


class _Lines:
    """Hands out source lines, so each comment lands right before (or on) its declaration."""

    def __init__(self) -> None:
        self.line = 0
        self.comments: list[ast.Comment] = []

    def span(self) -> Span:
        self.line += 1
        return Span(FILE, self.line, 1, self.line, 1)

    def comment(self, text: str) -> None:
        self.comments.append(ast.Comment("# " + text, self.span()))

    def trailing(self, span: Span, text: str) -> None:
        self.comments.append(ast.Comment("# " + text, span))


class _Names:
    """Spec names from AWS names: one namespace, unique, deterministic."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "asset"
        if not base[0].isalpha():
            base = "x_" + base
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


@dataclass
class _Draft:
    inv: I.Inventory
    lines: _Lines = field(default_factory=_Lines)
    names: _Names = field(default_factory=_Names)
    decls: list = field(default_factory=list)
    role_names: dict[str, str] = field(default_factory=dict)
    network_names: dict[str, str] = field(default_factory=dict)
    placeholder_network: str | None = None
    admins: dict[str, list[str]] = field(default_factory=dict)  # asset -> the roles drafted as its admins
    workload_admins: dict[str, list[str]] = field(default_factory=dict)  # asset -> workload roles that are too

    def region(self, region: str) -> ast.Str | None:
        """A block's region, written only when the deployment has several."""
        return ast.Str(region) if len(self.inv.regions) > 1 else None


def _s(value: str) -> ast.Str:
    return ast.Str(value)


def _n(text: str) -> ast.Name:
    return ast.Name(text)


def _trust_ways(inv: I.Inventory, role: I.Role | None) -> tuple[list[tuple[str, ...]], list[str]]:
    """(the ways the role's trust admits that a spec can say, as (kind, subject[, namespace,
    service account]); everything else it admits, in words). Pod identity is said by the
    associations found in EKS, IRSA by the trust's own `:sub` condition."""
    ways, other = [], []
    pods = sorted(w.identity for w in inv.workloads
                  if role and w.kind == I.EKS_POD and role.arn in w.roles and _kubernetes_ok(EKS_POD, w.identity))
    for s in eks.allow_statements(role.trust if role else None):
        if eks.trusts_pod_identity(s):
            ways += [(EKS_POD, *identity) for identity in pods]
            if not pods:
                other.append(f"Service {eks.POD_IDENTITY}, which no pod identity association found names")
        for sa in eks.service_accounts(s):
            identity = (sa.issuer, sa.namespace or "", sa.name or "")
            if sa.namespace and _kubernetes_ok(IRSA, identity):
                ways.append((IRSA, *identity))
            else:
                other.append(f"Federated {sa.issuer} for {sa.text}")
        for kind, v in eks.principals(s):
            if kind == "Service" and v in SERVICE_WAYS and (not s.get("Condition") or _pinned(s, v)):
                ways.append(("service", SERVICE_WAYS[v]))
            elif not (kind == "Service" and v == eks.POD_IDENTITY) and not (kind == "Federated" and eks.issuer_of(v)):
                other.append(f"{kind} {v}")
    return sorted(set(ways)), sorted(set(other))


def _pinned(statement: dict, service: str) -> bool:
    """Whether a service statement's conditions are only the confused-deputy keys, on a
    service the spec pins with them itself (to the account and the deployment's regions)."""
    keys = {k.lower() for block in (statement.get("Condition") or {}).values() if isinstance(block, dict)
            for k in block}
    return bool(TRUSTED_SERVICES[SERVICE_WAYS[service]].source_arn) and keys <= CONFUSED_DEPUTY_KEYS


def _conditions_today(role: I.Role | None) -> tuple[list[str], list[str]]:
    """The conditions today's trust holds the ways the draft keeps to, in words: (those on
    services the spec pins itself, those on EKS Pod Identity, whose associations the draft
    names one by one and which those conditions may narrow further)."""
    services, pods = [], []
    for s in eks.allow_statements(role.trust if role else None):
        named = [v for kind, v in eks.principals(s) if kind == "Service" and v in SERVICE_WAYS]
        if not s.get("Condition"):
            continue
        words = [f"{k} {op} {', '.join([v] if isinstance(v, str) else map(str, v))}"
                 for op, block in sorted(s["Condition"].items())
                 for k, v in (sorted(block.items()) if isinstance(block, dict) else ())]
        if named and all(_pinned(s, v) for v in named):
            services += words
        if eks.trusts_pod_identity(s):
            pods += words
    return sorted(set(services)), sorted(set(pods))


def _kubernetes_ok(kind: str, identity: tuple[str, ...]) -> bool:
    return len(identity) == 3 and kubernetes_way_ok(kind, *identity)


def _way(way: tuple[str, ...]) -> ast.Way:
    if way[0] == "service":
        return ast.Way(_n("service"), _n(way[1]))
    return ast.Way(_n(way[0]), _s(way[1]), ((_n("namespace"), _s(way[2])), (_n("service_account"), _s(way[3]))))


def _header(d: _Draft) -> None:
    inv = d.inv
    d.lines.comment(f"Drafted by `slpc import` from account {inv.account} ({', '.join(inv.regions)}).")
    d.lines.comment("Review every TODO: the grants are what the found roles hold today, narrowed to the")
    d.lines.comment("prefixes where their model data is; anything wider is left out on purpose.")
    if inv.empty:
        d.lines.comment(f"TODO: nothing found in {', '.join(inv.regions)}: no SageMaker or ECS workload, "
                        "no model bucket.")
    for p in inv.problems:
        d.lines.comment(f"TODO: not read: {p.resource}: {p.message}")


def _deployment(d: _Draft) -> None:
    inv = d.inv
    span = d.lines.span()
    d.decls.append(ast.Deployment(_s(f"imported-{inv.account}"), _s(inv.account), tuple(_s(r) for r in inv.regions),
                                  partition=_s(inv.partition) if inv.partition != "aws" else None, span=span))


def _networks(d: _Draft, accesses: list[Access]) -> None:
    for n in d.inv.networks:
        if not n.endpoints:
            d.lines.comment(f"TODO: {n.vpc} ({n.region}), where workloads run, has no VPC endpoint slpc knows: "
                            "its requests reach AWS some other way (a NAT gateway?)")
            continue
        name = d.names(n.vpc)
        d.network_names[n.vpc] = name
        eps = tuple(ast.VpcEndpoint(_n(svc), _s(vid), type=_n(kind) if kind and kind != DEFAULT_TYPE.get(svc,
                                                                                                      "interface")
                                    else None)
                    for svc, vid, kind in n.endpoints)
        d.lines.comment(f"The VPC of the workloads in subnets {', '.join(n.subnets)}.")
        d.decls.append(ast.Network(_n(name), vpc=_s(n.vpc), endpoints=eps, subnets=tuple(_s(x) for x in n.subnets),
                                   region=d.region(n.region), span=d.lines.span()))
    if any(not _grant_networks(d, a) for a in accesses):
        d.placeholder_network = d.names("todo_network")
        d.lines.comment("TODO: a placeholder (TEST-NET-1, routed nowhere) for grants held today from outside")
        d.lines.comment("every network found: replace it with the networks requests really come from.")
        d.decls.append(ast.Network(_n(d.placeholder_network), cidrs=(_s(PLACEHOLDER_CIDR),), span=d.lines.span()))


EKS_KINDS = (I.EKS_POD, I.EKS_IRSA)


def _roles(d: _Draft, admins: list[str], accesses: list[Access]) -> None:
    """The found roles and the assets' admins. A role only EKS pods use that holds nothing on
    the found assets (a cluster's controllers, add-ons) is named in a comment, not drafted."""
    holding = {a.role for a in accesses}
    idle = [r for r in d.inv.roles if r.read and r.arn not in holding and r.arn not in admins
            and all(u.startswith(EKS_KINDS) for u in r.used_by)]
    for r in idle:
        d.lines.comment(f"Not drafted: {r.arn} ({', '.join(r.used_by)}) holds nothing on the assets found.")
    for r in d.inv.roles:
        if r not in idle:
            d.role_names[r.arn] = d.names(r.arn.rsplit("/", 1)[-1])
    for arn in admins:
        if arn not in d.role_names:
            d.role_names[arn] = d.names(arn.rsplit("/", 1)[-1])
    used = {r.arn: r for r in d.inv.roles}
    for arn in sorted(d.role_names, key=lambda a: d.role_names[a]):
        r = used.get(arn)
        ways, other = _trust_ways(d.inv, r)
        if r is not None:
            d.lines.comment(f"Runs {', '.join(r.used_by)}.")
        if r is not None and not r.read:
            d.lines.comment("TODO: its policies were not read: no grant is drafted for it.")
        if arn.endswith("/" + PLACEHOLDER_ADMIN):
            d.lines.comment("TODO: a placeholder: no role found administers the keys below today;")
            d.lines.comment("name the roles that should.")
        if ways and not other:
            passed = sorted({w[1] if w[0] == "service" else "eks_pod" for w in ways if w[0] != IRSA})
            d.lines.comment(f"TODO: add `passed_by ROLE to {'|'.join(passed)}` for who may hand it over, and `admins`."
                            if passed else "TODO: add `admins`: who may change the role.")
            services, pods = _conditions_today(r)
            if services:
                d.lines.comment(f"TODO: today its trust holds the service to {'; '.join(services)}; the spec pins")
                d.lines.comment("aws:SourceAccount to the account and aws:SourceArn to the deployment's regions.")
            if pods:
                d.lines.comment(f"TODO: today its trust holds EKS Pod Identity to {'; '.join(pods)}; the spec")
                d.lines.comment("admits each association found, by its session tags: keep only those it should.")
            d.decls.append(ast.Role(_n(d.role_names[arn]), _s(arn), block=True,
                                    assumed_by=tuple(_way(w) for w in ways), span=d.lines.span()))
        else:
            if other:
                d.lines.comment(f"TODO: its trust policy admits {'; '.join(other)}: say who may obtain it "
                                "(docs/language.md, role).")
            elif r is not None:
                d.lines.comment("TODO: say who may obtain it (docs/language.md, role).")
            elif not arn.endswith("/" + PLACEHOLDER_ADMIN):
                d.lines.comment("Administers assets below today (their policies name it). TODO: say who may")
                d.lines.comment("obtain it (docs/language.md, role); its trust and policies were not read.")
            d.decls.append(ast.Role(_n(d.role_names[arn]), _s(arn), span=d.lines.span()))


def _grant_networks(d: _Draft, a: Access) -> tuple[str, ...]:
    """The found networks the grant is held from today, narrowed to those the role's own
    workloads run in when it is held from any of them."""
    held = [v for v in a.networks if v in d.network_names]
    own = [v for v in held if v in _role_vpcs(d.inv, a.role)]
    return tuple(d.network_names[v] for v in own or held)


def _role_vpcs(inv: I.Inventory, role: str) -> set[str]:
    """The VPCs the role's workloads run in."""
    subnets = {s for w in inv.workloads if role in w.roles for s in w.subnets}
    return {n.vpc for n in inv.networks if subnets & set(n.subnets)}


def _keys(d: _Draft) -> dict[str, str]:
    """Each bucket's key name; a placeholder key for the buckets without a key of their own."""
    inv = d.inv
    out: dict[str, str] = {}
    placeholders: dict[str, list[str]] = {}
    for b in inv.buckets:
        if _own_key(inv, b) is None:
            placeholders.setdefault(b.region, []).append(b.name)
    for k in sorted(inv.keys, key=lambda k: k.arn):
        if not _writable(inv, k):
            continue
        name = d.names("key_" + k.arn.rsplit("/", 1)[-1][:8])
        for b in inv.buckets:
            if b.key_arn == k.arn:
                out[b.name] = name
        how = d.admins.get(k.arn)
        _key_uses(d, k)
        _workload_admins(d, k.arn)
        if not how:
            d.lines.comment("TODO: its key policy names no role that administers it (AWS's default policy leaves")
            d.lines.comment("that to IAM): the admin below is a placeholder.")
        d.decls.append(ast.Key(_n(name), _s(k.arn), admins=tuple(_n(d.role_names[a]) for a in
                                                                  (how or [_placeholder_admin(inv)])),
                               span=d.lines.span()))
    for region, buckets in sorted(placeholders.items()):
        name = d.names(f"todo_key_{region}")
        for b in buckets:
            out[b] = name
        d.lines.comment(f"TODO: no customer-managed KMS key encrypts {', '.join(sorted(buckets))} today:")
        d.lines.comment("create one and put its ARN here (this one is a placeholder), with its admins.")
        d.decls.append(ast.Key(_n(name), _s(f"arn:{inv.partition}:kms:{region}:{inv.account}:key/{PLACEHOLDER_KEY}"),
                               admins=(_n(d.role_names[_placeholder_admin(inv)]),), span=d.lines.span()))
    return out


def _key_uses(d: _Draft, k: I.Key) -> None:
    """What the key encrypts today; SageMaker's and Bedrock's own use of it is not in the
    spec's language."""
    if k.encrypts:
        d.lines.comment(f"Encrypts {', '.join(k.encrypts)}.")
    services = [x for x in k.encrypts if x.endswith(("(volume)", "(model)"))]
    if services:
        d.lines.comment("TODO: slpc's key policy lets only its admins, and the grants' requests through S3, "
                        "use the key:")
        d.lines.comment(f"{', '.join(services)} could no longer use it.")
        d.lines.comment("Keep today's key policy (not kms/ of the compiled draft) until the spec can say so.")
    buckets = {b.name for b in d.inv.buckets if b.key_arn == k.arn}
    outputs = [x for x in k.encrypts if x.endswith("(output)")]
    if outputs and not buckets:
        d.lines.comment(f"TODO: {', '.join(outputs)} writes under this key, which encrypts no bucket of the")
        d.lines.comment("draft: the spec's bucket policies refuse uploads under any key but the bucket's own.")


def _writable(inv: I.Inventory, k: I.Key) -> bool:
    """A key whose policy a spec of this deployment writes: customer-managed, of the
    deployment's account and one of its regions."""
    return not k.managed_by_aws and k.arn.split(":")[4] == inv.account and k.region in inv.regions


def _own_key(inv: I.Inventory, b: I.Bucket) -> I.Key | None:
    return next((k for k in inv.keys if k.arn == b.key_arn and _writable(inv, k)), None)


def _placeholder_admin(inv: I.Inventory) -> str:
    return f"arn:{inv.partition}:iam::{inv.account}:role/{PLACEHOLDER_ADMIN}"


def _exposed(d: _Draft, exposures: list[Exposure]) -> None:
    for x in exposures:
        who = "anyone (no credentials)" if x.who == "anyone" else f"account {x.who}"
        d.lines.comment(f"TODO: today its policy lets {who} {', '.join(x.actions)}; the spec keeps only the "
                        "grants below.")


def _assets(d: _Draft, key_names: dict[str, str], exposures: list[Exposure]) -> dict[str, str]:
    inv = d.inv
    names: dict[str, str] = {}
    exposed: dict[str, list[Exposure]] = {}
    for x in exposures:
        exposed.setdefault(x.asset, []).append(x)
    for b in inv.buckets:
        names[b.name] = d.names(b.name)
        found = ", ".join(f"{p or '(the root)'}" for p in b.prefixes)
        d.lines.comment(f"Found: {b.why}. " + (f"Model data under {found}." if found else
                                                "No model data in the sampled keys."))
        _exposed(d, exposed.get(b.name, []))
        d.decls.append(ast.Bucket(_n(names[b.name]), _s(b.name), encrypt=_n(key_names[b.name]),
                                  admins=_admin_names(d, b.name), span=d.lines.span()))
    for r in inv.repositories:
        names[r.arn] = d.names(r.name)
        _exposed(d, exposed.get(r.arn, []))
        d.decls.append(ast.Repository(_n(names[r.arn]), _s(r.name), region=d.region(r.region),
                                      admins=_admin_names(d, r.arn), span=d.lines.span()))
    for e in inv.endpoints:
        names[e.arn] = d.names(e.name)
        d.lines.comment(f"Serves {', '.join(e.models) or 'no model'}.")
        d.decls.append(ast.Endpoint(_n(names[e.arn]), sagemaker=_s(e.name), region=d.region(e.region),
                                    span=d.lines.span()))
    return names


def _workload_admins(d: _Draft, asset: str) -> None:
    """Names the workload roles that may administer the asset today (never drafted as admins)."""
    if d.workload_admins.get(asset):
        d.lines.comment(f"TODO: today {', '.join(d.workload_admins[asset])}, which run workloads, administer it "
                        "too; the draft leaves them out.")


def _admin_names(d: _Draft, asset: str) -> tuple[ast.Name, ...]:
    """A bucket's or repository's admins, with TODOs where the account does not say."""
    _workload_admins(d, asset)
    if not d.admins.get(asset):
        d.lines.comment("TODO: no role but the workloads' administers it today: name its `admins`.")
    return tuple(_n(d.role_names[a]) for a in d.admins.get(asset, ()))


def _grants(d: _Draft, accesses: list[Access], asset_names: dict[str, str]) -> None:
    rows = []
    for a in accesses:
        if a.role not in d.role_names or a.asset not in asset_names:
            continue
        nets = _grant_networks(d, a) or (d.placeholder_network,)
        notes = []
        if a.lacks:
            notes.append(f"adds {', '.join(a.lacks)} (not held today)")
        others = sorted(d.network_names[v] for v in a.networks
                        if v in d.network_names and d.network_names[v] not in nets)
        places = [p for p, yes in ((", ".join(others), others),
                                   ("outside these networks", a.anywhere and bool(_grant_networks(d, a)))) if yes]
        wider = ["on the whole bucket"] if a.whole else []
        if places:
            wider.append("from " + " and ".join(places))
        if wider:
            notes.append("held today " + " and ".join(wider))
        rows.append((d.role_names[a.role], asset_names[a.asset], a.prefix, a.verb, nets, notes))
    for role, asset, prefix, verb, nets, notes in sorted(rows, key=lambda r: r[:4]):
        span = d.lines.span()
        d.decls.append(ast.Allow(_n(role), _n(verb), _n(asset), tuple(_n(n) for n in nets),
                                 prefix=_s(prefix) if prefix else None, span=span))
        if notes:
            d.lines.trailing(span, "TODO: " + "; ".join(notes))


def draft(inv: I.Inventory, accesses: list[Access], exposures: list[Exposure],
          admins: dict[str, list[str]]) -> ast.Spec:
    """The draft spec. `admins`: key ARN, bucket name or repository ARN -> the role ARNs that
    administer it today. The roles that run workloads are not drafted as admins (a TODO
    names them): an asset's admins are people and pipelines, not the jobs that use it."""
    d = _Draft(inv)
    runs = {r.arn for r in inv.roles}
    d.admins = {a: [r for r in rs if r not in runs] for a, rs in admins.items()}
    d.workload_admins = {a: [r for r in rs if r in runs] for a, rs in admins.items()}
    _header(d)
    _deployment(d)
    _networks(d, accesses)
    needs_placeholder_admin = any(not d.admins.get(k.arn) for k in inv.keys if _writable(inv, k)) or any(
        _own_key(inv, b) is None for b in inv.buckets)
    assets = [k.arn for k in inv.keys if _writable(inv, k)] + [b.name for b in inv.buckets] + [
        r.arn for r in inv.repositories]
    _roles(d, sorted({a for asset in assets for a in d.admins.get(asset, ())} |
                     ({_placeholder_admin(inv)} if needs_placeholder_admin else set())), accesses)
    key_names = _keys(d)
    asset_names = _assets(d, key_names, exposures)
    _grants(d, accesses, asset_names)
    return ast.Spec(tuple(d.decls), tuple(d.lines.comments), FILE)
