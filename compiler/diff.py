"""What access a spec change adds and removes, in the spec's own terms (`slpc diff`'s engine).

Both sides are compiled to Models and compared by meaning, never by text:
reformatting, reordering declarations or networks, and respelling an instant in
another offset are no change. Every change is classified:

- **widens**: something is allowed that was not (a grant, a network or CIDR a grant
  can be used from, a later expiry, a shorter prefix, a new admin) or a protection
  is weakened (guardrails, Object Lock, audit, presigned-URL age);
- **narrows**: the reverse;
- **neutral**: the spec changed but access did not (a new grant already covered by
  another, a network nobody uses, a renamed VPC id).

Grant changes are decided on *atoms*: every grant is expanded into
(principal ARN, action, resource, prefix, way in, until) where a way in is one VPC
endpoint id or one public CIDR of one of its networks. A change widens only when
some atom of the new side is covered by no atom of the old side, and that atom
is attributed to the spec-level change that produced it (the grant, the network
added to it, its prefix or expiry, the network's new CIDR...). Narrowing is the
same computation with the sides swapped, so diff(a, b) widens exactly when
diff(b, a) narrows. See docs/diff.md.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from . import routes
from .model import Asset, Grant, Model, Network
from .flow_logs import destination, flow_logs
from .security_groups import security_groups
from .verbs import (ACCOUNT, API, ASSET_KINDS, ASSET_SERVICES, BUCKET_PREFIX, KEY_VIA_S3, OBJECT, VERBS,
                    reachable_from_cidrs)

WIDENS, NARROWS, NEUTRAL = "widens", "narrows", "neutral"
EFFECTS = (WIDENS, NARROWS, NEUTRAL)

_FOREVER = "9999-12-31T23:59:59Z"  # a grant without `until` (instants are normalised UTC strings)


@dataclass(frozen=True)
class Change:
    """One change in meaning between two specs.

    `subject` names the declaration concerned in spec syntax (an `allow` line,
    `network corp_office`, `bucket weights`, `deployment "acme-llm"`). For grant
    changes, principal/verb/asset/prefix/networks/until describe the grant as it
    stands on the new side (the old side for a removed grant). `network` is the
    network concerned (a grant's added or removed network, a network whose ranges
    changed); `old`/`new` are the changed value before and after, as text.
    """

    kind: str
    effect: str  # "widens" | "narrows" | "neutral"
    subject: str
    description: str
    principal: str | None = None
    verb: str | None = None
    asset: str | None = None
    prefix: str | None = None
    networks: tuple[str, ...] = ()
    until: str | None = None
    network: str | None = None
    old: str | None = None
    new: str | None = None

    def to_json(self) -> dict:
        return {
            "kind": self.kind, "effect": self.effect, "subject": self.subject, "description": self.description,
            "principal": self.principal, "verb": self.verb, "asset": self.asset, "prefix": self.prefix,
            "networks": list(self.networks), "until": self.until, "network": self.network,
            "old": self.old, "new": self.new,
        }


# --------------------------------------------------------------------------- #
# Spec-terms phrasing


def allow_line(g: Grant) -> str:
    prefix = f' "{g.prefix}"' if g.prefix else ""
    until = f' until "{g.until}"' if g.until else ""
    return f"allow {g.principal} {g.verb} {g.asset}{prefix} from {', '.join(g.networks)}{until}"


def _or(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _what(g: Grant, kind: str, prefix: str | None = None) -> str:
    """What the grant lets its principal do, as a verb phrase."""
    prefix = g.prefix if prefix is None else prefix
    if kind == "bucket":
        objs = f'keys under "{prefix}" in bucket {g.asset}' if prefix else f"everything in bucket {g.asset}"
        return {"list": f"list {objs}"}.get(g.verb, f"{g.verb} {objs}")
    if kind == "repository":
        return {"pull": f"pull images from repository {g.asset}",
                "push": f"push (and pull) images in repository {g.asset}"}.get(g.verb, f"{g.verb} {g.asset}")
    if kind == "endpoint":
        return f"invoke SageMaker endpoint {g.asset}"
    if kind == "api":
        return f"call private API {g.asset}" + (f' on route "{prefix}"' if prefix else "")
    return f"{g.verb} {g.asset}"


def _until(until: str | None) -> str:
    return f"until {until}" if until else "with no end date"


def _grants_list(grants: Iterable[Grant], limit: int = 3) -> str:
    lines = sorted({allow_line(g) for g in grants})
    shown = "; ".join(f"`{x}`" for x in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


# --------------------------------------------------------------------------- #
# Atoms: the meaning of the grants


def _cidr(text: str):
    return ipaddress.ip_network(text, strict=False)


def _ways(net: Network, kind: str) -> list[tuple[str, object]]:
    """The ways into `net` that count for an asset of `kind`: endpoint ids and public CIDRs."""
    services = ASSET_SERVICES[kind]
    ways: list[tuple[str, object]] = [("vpce", vid) for vid in sorted({v for s, v in net.endpoints if s in services})]
    if reachable_from_cidrs(services):
        ways += [("cidr", c) for c in sorted({_cidr(c) for c in net.cidrs}, key=lambda n: (n.version, n))]
    return ways


@dataclass(frozen=True)
class _Atom:
    principal: str  # ARN
    action: str
    resource: str  # ARN, or "*" for account-level actions
    prefix: str
    way: tuple[str, object]
    until: str


@dataclass(frozen=True)
class _Origin:
    grant: Grant
    network: str


def _atoms(model: Model) -> list[tuple[_Atom, _Origin]]:
    out = []
    for g in model.grants:
        asset = model.assets[g.asset]
        verb = VERBS[(asset.kind, g.verb)]
        arn = model.principals[g.principal].arn
        until = g.until or _FOREVER
        for n in dict.fromkeys(g.networks):
            for way in _ways(model.networks[n], asset.kind):
                for action, scope in verb.actions:
                    resource = "*" if scope == ACCOUNT else asset.arn
                    prefix = g.prefix if scope in (OBJECT, BUCKET_PREFIX, KEY_VIA_S3, API) else ""
                    out.append((_Atom(arn, action, resource, prefix, way, until), _Origin(g, n)))
    return out


def _within(kind_or_action: str, outer: str, inner: str) -> bool:
    """Everything under `inner` is under `outer`: API routes (by asset kind or execute-api
    action), else key prefixes."""
    if kind_or_action == "api" or kind_or_action.startswith("execute-api:"):
        return routes.contains(outer, inner)
    return inner.startswith(outer)


class _Cover:
    """Answers "is this atom allowed by some atom of the other side?"."""

    def __init__(self, atoms: Iterable[tuple[_Atom, _Origin]]):
        self.index: dict[tuple, list[tuple[_Atom, _Origin]]] = {}
        for atom, origin in atoms:
            self.index.setdefault(self._key(atom), []).append((atom, origin))

    @staticmethod
    def _key(a: _Atom) -> tuple:
        kind, value = a.way
        return (a.principal, a.action, a.resource, kind, value if kind == "vpce" else value.version)

    def by(self, a: _Atom) -> _Origin | None:
        for b, origin in self.index.get(self._key(a), ()):
            if not _within(a.action, b.prefix, a.prefix) or a.until > b.until:
                continue
            # a range counts as covered when one range of the other side contains it (conservative)
            if a.way[0] == "cidr" and not a.way[1].subnet_of(b.way[1]):
                continue
            return origin
        return None


# --------------------------------------------------------------------------- #
# Pending changes: spec-level changes whose effect depends on the atoms


@dataclass
class _Pending:
    kind: str
    direction: str  # the effect it has if any atom is attributed to it
    subject: str
    describe: Callable[[str, list[Grant]], str]  # (effect, affected grants) -> description
    fields: dict = field(default_factory=dict)
    hits: list[Grant] = field(default_factory=list)
    forced: bool = False  # widens/narrows regardless of atoms (duties ride on role and resource identity)
    pair: str | None = None  # the key of the other half (ARN changes are a widening and a narrowing half)


def _grant_fields(g: Grant) -> dict:
    return {"principal": g.principal, "verb": g.verb, "asset": g.asset, "prefix": g.prefix,
            "networks": tuple(g.networks), "until": g.until}


def _gkey(g: Grant) -> tuple:
    return (g.principal, g.verb, g.asset, g.prefix, frozenset(g.networks), g.until)


def _nested(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _pair(removed: list[Grant], added: list[Grant]) -> list[tuple[Grant, Grant]]:
    """Match removed and added grants that are one grant edited: same principal, verb and
    asset, nested prefixes. Greedy on a symmetric score, so the pairing does not depend on
    which side is old."""
    cands = []
    for r in removed:
        for a in added:
            if (r.principal, r.verb, r.asset) != (a.principal, a.verb, a.asset) or not _nested(r.prefix, a.prefix):
                continue
            rn, an = set(r.networks), set(a.networks)
            score = (r.prefix == a.prefix, len(rn & an) / len(rn | an), r.until == a.until)
            tie = tuple(sorted((repr(_gkey_sorted(r)), repr(_gkey_sorted(a)))))
            cands.append(((tuple(-int(s) if isinstance(s, bool) else -s for s in score), tie), r, a))
    cands.sort(key=lambda c: c[0])
    used_r, used_a, pairs = set(), set(), []
    for _, r, a in cands:
        if id(r) in used_r or id(a) in used_a:
            continue
        used_r.add(id(r))
        used_a.add(id(a))
        pairs.append((r, a))
    return pairs


def _gkey_sorted(g: Grant) -> tuple:
    return (g.principal, g.verb, g.asset, g.prefix, tuple(sorted(g.networks)), g.until or "")


class _Differ:
    def __init__(self, old: Model, new: Model):
        self.old, self.new = old, new
        self.pending: dict[tuple, _Pending] = {}
        self.changes: list[Change] = []

    # -- helpers ------------------------------------------------------------ #
    def fixed(self, kind: str, effect: str, subject: str, description: str, **fields) -> None:
        self.changes.append(Change(kind, effect, subject, description, **fields))

    def add_pending(self, key: tuple, p: _Pending) -> _Pending:
        self.pending[key] = p
        return p

    def kind_of(self, model: Model, g: Grant) -> str:
        return model.assets[g.asset].kind

    # -- grants ------------------------------------------------------------- #
    def grants(self) -> None:
        old = {_gkey(g): g for g in self.old.grants}
        new = {_gkey(g): g for g in self.new.grants}
        removed = [g for k, g in old.items() if k not in new]
        added = [g for k, g in new.items() if k not in old]
        self.paired_new: dict[int, Grant] = {}  # id(new grant) -> old grant
        self.paired_old: dict[int, Grant] = {}
        for r, a in _pair(removed, added):
            self.paired_new[id(a)], self.paired_old[id(r)] = r, a
            self.edited(r, a)
        for g in added:
            if id(g) not in self.paired_new:
                self.add_pending(("grant", "new", id(g)), self.grant_alone(g, added=True))
        for g in removed:
            if id(g) not in self.paired_old:
                self.add_pending(("grant", "old", id(g)), self.grant_alone(g, added=False))

    def grant_alone(self, g: Grant, added: bool) -> _Pending:
        """A grant only one side has: it widens (added) or narrows (removed) access unless
        the other side's grants already cover all it allows."""
        model, effect = (self.new, WIDENS) if added else (self.old, NARROWS)
        what, nets = _what(g, self.kind_of(model, g)), _or(g.networks)

        def describe(actual: str, _hits) -> str:
            if actual == effect:
                return (f"new grant: {g.principal} may {what} from {nets}, {_until(g.until)}" if added
                        else f"grant removed: {g.principal} may no longer {what} from {nets}")
            by = _grants_list(self.coverers(g, model, self.old_cover if added else self.new_cover))
            return (f"new grant adds no access: {g.principal} may already {what} from {nets} through {by}"
                    if added else f"grant removed, but {g.principal} keeps the access to {what} from {nets} "
                                  f"through {by}")
        return _Pending("grant-added" if added else "grant-removed", effect, allow_line(g), describe,
                        _grant_fields(g))

    def coverers(self, g: Grant, model: Model, cover: _Cover) -> list[Grant]:
        out = []
        for atom, origin in self.atoms_of[id(model)]:
            if origin.grant is g and (by := cover.by(atom)) is not None:
                out.append(by.grant)
        return out

    def edited(self, h: Grant, g: Grant) -> None:
        """One grant changed from h (old) to g (new): one change per widened or narrowed part."""
        kind = self.kind_of(self.new, g)
        subject, fields = allow_line(g), _grant_fields(g)
        for n in [n for n in g.networks if n not in h.networks]:
            def describe(effect, _h, n=n):
                if effect == WIDENS:
                    return f"{g.principal} may now {_what(g, kind)} also from network {n}"
                return (f"{g.principal}'s grant to {_what(g, kind)} now also names network {n}, "
                        f"which opens no way in the grant did not already have")
            self.add_pending(("net+", id(g), n), _Pending("grant-network-added", WIDENS, subject, describe,
                                                          {**fields, "network": n, "new": n}))
        for n in [n for n in h.networks if n not in g.networks]:
            def describe(effect, _h, n=n):
                if effect == NARROWS:
                    return f"{g.principal} may no longer {_what(g, kind)} from network {n}"
                return (f"{g.principal}'s grant to {_what(g, kind)} no longer names network {n}, "
                        f"but every way in it offered is still allowed")
            self.add_pending(("net-", id(h), n), _Pending("grant-network-removed", NARROWS, subject, describe,
                                                          {**fields, "network": n, "old": n}))
        if g.prefix != h.prefix:
            direction = WIDENS if _within(kind, g.prefix, h.prefix) else NARROWS
            old_what = f'"{h.prefix}"' if h.prefix else "every route" if kind == "api" else "the whole bucket"

            def describe(effect, _h):
                if effect == WIDENS:
                    return f"{g.principal} may now {_what(g, kind)} (was only {old_what})"
                if effect == NARROWS:
                    return f"{g.principal} may now only {_what(g, kind)} (was {old_what})"
                return (f"{g.principal}'s grant to {_what(g, kind)} changed its prefix (was {old_what}), "
                        f"but other grants already allow the same keys")
            self.add_pending(("prefix", id(g)), _Pending("grant-prefix-changed", direction, subject, describe,
                                                         {**fields, "old": h.prefix, "new": g.prefix}))
        if g.until != h.until:
            direction = WIDENS if (g.until or _FOREVER) > (h.until or _FOREVER) else NARROWS

            def describe(effect, _h):
                was = f"until {h.until}" if h.until else "no end date"
                if effect == WIDENS:
                    return f"{g.principal} may {_what(g, kind)} for longer: {_until(g.until)} (was {was})"
                if effect == NARROWS:
                    return f"{g.principal} may {_what(g, kind)} for less time: {_until(g.until)} (was {was})"
                return (f"{g.principal}'s grant to {_what(g, kind)} now ends {_until(g.until)} (was {was}), "
                        f"but other grants already allow the same")
            self.add_pending(("until", id(g)), _Pending("grant-until-changed", direction, subject, describe,
                                                        {**fields, "old": h.until, "new": g.until}))

    # -- attribution -------------------------------------------------------- #
    def attribute(self, side: str, atom: _Atom, origin: _Origin) -> None:
        """An atom of `side` that the other side does not allow: find the change(s) behind it."""
        g, n = origin.grant, origin.network
        mine, other = (self.new, self.old) if side == "new" else (self.old, self.new)
        direction = WIDENS if side == "new" else NARROWS
        partner = (self.paired_new if side == "new" else self.paired_old).get(id(g))
        keys: list[tuple] = []
        if partner is None and _gkey(g) not in self.keys_of[id(other)]:
            keys.append(("grant", side, id(g)))
        elif partner is not None:
            h = partner
            if n not in h.networks:
                keys.append(("net+", id(g), n) if side == "new" else ("net-", id(g), n))
            else:
                gnew = g if side == "new" else h
                for k in (("prefix", id(gnew)), ("until", id(gnew))):
                    if k in self.pending and self.pending[k].direction == direction:
                        keys.append(k)
        if not keys or (partner is not None and n in partner.networks):  # a declaration it names changed
            p, a = g.principal, g.asset
            if p in other.principals and other.principals[p].arn != mine.principals[p].arn:
                keys.append(("role-arn", p, direction))
            if atom.resource != "*" and a in other.assets and other.assets[a].arn != mine.assets[a].arn:
                keys.append(("asset-arn", a, direction))
            kind = mine.assets[a].kind
            if n in other.networks and kind == other.assets.get(a, mine.assets[a]).kind \
                    and atom.way not in _ways(other.networks[n], kind):
                wkind, value = atom.way
                if wkind == "cidr":
                    keys.append(("cidr", n, str(value), direction))
                else:
                    svc = next(s for s, v in mine.networks[n].endpoints if v == value and s in ASSET_SERVICES[kind])
                    keys.append(("endpoint", n, (svc, value), direction))
        keys = [k for k in keys if k in self.pending]
        if not keys:  # cannot happen for checked models; never lose a widening
            keys = [("unexplained", side, id(g))]
            self.pending.setdefault(keys[0], _Pending(
                "grant-meaning-changed", direction, allow_line(g),
                lambda effect, _h, g=g: (f"{g.principal} may {'now' if effect == WIDENS else 'no longer'} "
                                         f"{_what(g, mine.assets[g.asset].kind)} from network {origin.network} "
                                         "because a declaration this grant names changed"),
                _grant_fields(g)))
        for k in keys:
            self.pending[k].hits.append(g)

    # -- declarations ------------------------------------------------------- #
    def networks(self) -> None:
        old, new = self.old.networks, self.new.networks
        for name in sorted(set(new) - set(old)):
            self.fixed("network-added", NEUTRAL, f"network {name}",
                       f"network {name} is declared; it allows nothing until a grant names it", network=name)
        for name in sorted(set(old) - set(new)):
            self.fixed("network-removed", NEUTRAL, f"network {name}",
                       f"network {name} is no longer declared (grants that named it are listed separately)",
                       network=name)
        for name in sorted(set(old) & set(new)):
            o, n = old[name], new[name]
            subject = f"network {name}"
            for attr in ("account", "vpc", "region"):
                if getattr(o, attr) != getattr(n, attr):
                    self.fixed(f"network-{attr}-changed", NEUTRAL, subject,
                               f"network {name}'s {attr} is now {getattr(n, attr) or 'unset'} "
                               f"(was {getattr(o, attr) or 'unset'}); slpc writes no condition on it",
                               network=name, old=getattr(o, attr), new=getattr(n, attr))
            oe, ne = set(o.endpoints), set(n.endpoints)
            for sign, eps in (("+", ne - oe), ("-", oe - ne)):
                for svc, vid in sorted(eps):
                    self.way_pending(name, "endpoint", (svc, vid), f"{svc} endpoint {vid}", sign)
            oc, nc = {str(_cidr(c)) for c in o.cidrs}, {str(_cidr(c)) for c in n.cidrs}
            for sign, cidrs in (("+", nc - oc), ("-", oc - nc)):
                for c in sorted(cidrs):
                    self.way_pending(name, "cidr", c, f"public range {c}", sign)
            for attr, word in (("subnets", "subnet"), ("security_groups", "security group")):
                before, after = set(getattr(o, attr)), set(getattr(n, attr))
                for x in sorted(after - before):
                    self.fixed(f"network-{word.replace(' ', '-')}-added", WIDENS, subject,
                               f"SageMaker jobs and models may now run in {word} {x} of network {name} "
                               f"(the SCP guardrail allows it)", network=name, new=x)
                for x in sorted(before - after):
                    self.fixed(f"network-{word.replace(' ', '-')}-removed", NARROWS, subject,
                               f"SageMaker jobs and models may no longer run in {word} {x} of network {name}",
                               network=name, old=x)

    def security_groups(self) -> None:
        """The rules of the security groups slpc writes: a rule no rule of the other side
        covers widens (added) or narrows (removed); one covered is neutral (a range split,
        a rule made redundant)."""
        old = {(g.network, g.role): g for g in security_groups(self.old)}
        new = {(g.network, g.role): g for g in security_groups(self.new)}
        for key in sorted(set(old) | set(new)):
            network, role = key
            subject = f"network {network}"
            if key not in new:  # slpc stops writing it: what its members may reach is no longer slpc's
                self.fixed("network-security-group-dropped", WIDENS, subject,
                           f"slpc no longer writes the {role} security group of network {network}: the deployed "
                           "group stays until deleted, and nothing in the spec confines it any more",
                           network=network, old=old[key].name)
                continue
            before = old[key].rules if key in old else ()
            after = new[key].rules
            for sign, mine, theirs in (("+", after, before), ("-", before, after)):
                for r in [r for r in mine if r not in theirs]:
                    covered = any(t.covers(r) for t in theirs)
                    effect = NEUTRAL if covered else (WIDENS if sign == "+" else NARROWS)
                    verb = "now allows" if sign == "+" else "no longer allows"
                    tail = (" (another rule already allows it)" if sign == "+" else " (another rule still allows it)") \
                        if covered else ""
                    self.fixed(f"network-security-group-rule-{'added' if sign == '+' else 'removed'}", effect, subject,
                               f"the {role} security group of network {network} {verb} {r.text()}{tail}",
                               network=network, **({"new": r.text()} if sign == "+" else {"old": r.text()}))

    def flow_logs(self) -> None:
        """The flow logs slpc writes are evidence, not access: losing one (a network no longer
        logged, or a shorter retention) is reported as widening, since egress that was recorded
        no longer is; gaining one is neutral. (Their fields are slpc's own, the same on both
        sides; `slpc validate` checks the deployed format.)"""
        old = {f.network: f for f in flow_logs(self.old)}
        new = {f.network: f for f in flow_logs(self.new)}
        for name in sorted(set(old) | set(new)):
            subject = f"network {name}"
            if name not in new:
                self.fixed("network-flow-log-dropped", WIDENS, subject,
                           f"slpc no longer writes the flow log of network {name} ({old[name].vpc}): its traffic, "
                           "and where it leaves to, is no longer recorded", network=name, old=old[name].vpc)
            elif name not in old:
                self.fixed("network-flow-log-added", NEUTRAL, subject,
                           f"network {name} ({new[name].vpc}) gets a flow log to {new[name].destination.log_group}",
                           network=name, new=new[name].vpc)
        o, n = destination(self.old), destination(self.new)
        if o is None or n is None:
            return
        subject = "flow logs"
        for attr in ("log_group", "key"):
            if getattr(o, attr) != getattr(n, attr):
                self.fixed(f"flow-logs-{attr.replace('_', '-')}-changed", NEUTRAL, subject,
                           f"flow logs now go to {attr.replace('_', ' ')} {getattr(n, attr)} (was {getattr(o, attr)})",
                           old=getattr(o, attr), new=getattr(n, attr))
        if n.retention_days != o.retention_days:
            shorter = n.retention_days < o.retention_days
            self.fixed("flow-logs-retention-changed", WIDENS if shorter else NEUTRAL, subject,
                       f"flow log records are kept {n.retention_days} days (was {o.retention_days})"
                       + (": older evidence is deleted sooner" if shorter else ""),
                       old=str(o.retention_days), new=str(n.retention_days))

    def way_pending(self, name: str, wkind: str, value, label: str, sign: str) -> None:
        direction = WIDENS if sign == "+" else NARROWS
        text = value if wkind == "cidr" else f"{value[0]} {value[1]}"

        def describe(effect, hits):
            if effect == WIDENS:
                return (f"network {name} now includes {label}: requests through it count for "
                        f"{_grants_list(hits)}")
            if effect == NARROWS:
                return f"network {name} no longer includes {label}: {_grants_list(hits)} no longer hold(s) through it"
            verb = "now includes" if sign == "+" else "no longer includes"
            return f"network {name} {verb} {label}; no grant's access changes through it"
        self.add_pending((wkind, name, value, direction), _Pending(
            f"network-{wkind}-{'added' if sign == '+' else 'removed'}", direction, f"network {name}", describe,
            {"network": name, "new" if sign == "+" else "old": text}))

    def duties(self, what: str, name: str, role_word: str, before: Iterable[str], after: Iterable[str],
               power: str, **fields) -> None:
        before, after = tuple(before), tuple(after)
        for r in [r for r in after if r not in before]:
            self.fixed(f"{what}-{role_word}-added", WIDENS, f"{what} {name}",
                       f"role {r} becomes {role_word} of {what} {name}: it may now {power}", new=r, **fields)
        for r in [r for r in before if r not in after]:
            self.fixed(f"{what}-{role_word}-removed", NARROWS, f"{what} {name}",
                       f"role {r} is no longer {role_word} of {what} {name}: it may no longer {power}",
                       old=r, **fields)

    def roles(self) -> None:
        old, new = self.old.principals, self.new.principals
        for name in sorted(set(new) - set(old)):
            self.fixed("role-added", NEUTRAL, f"role {name}",
                       f"role {name} ({new[name].arn}) is declared; it holds only what grants and duties give it")
        for name in sorted(set(old) - set(new)):
            self.fixed("role-removed", NEUTRAL, f"role {name}",
                       f"role {name} ({old[name].arn}) is no longer declared")
        for name in sorted(set(old) & set(new)):
            o, n = old[name].arn, new[name].arn
            if o == n:
                continue
            self.arn_halves("role-arn", name, f"role {name}", o, n,
                            lambda e, hits, o=o, n=n, name=name: (
                                f"role {name} now refers to {n} (was {o}): that IAM role gains "
                                + (_grants_list(hits) if hits else f"{name}'s duties")) if e == WIDENS else (
                                f"the IAM role {o} loses what role {name} holds: "
                                + (_grants_list(hits) if hits else "its duties") + f" (role {name} is now {n})"),
                            f"role {name} now refers to {n} (was {o}); it holds no grants or duties",
                            self.holds_duties(self.new, name), self.holds_duties(self.old, name))

    def holds_duties(self, model: Model, role: str) -> bool:
        return any(role in k.admins for k in model.keys.values()) or any(
            role in a.admins or role in a.breakglass for a in model.assets.values())

    def arn_halves(self, kind: str, name: str, subject: str, old: str, new: str, describe, neutral: str,
                   forced_new: bool, forced_old: bool) -> None:
        """An identity change moves access from one AWS resource to another: a widening half
        (the new one gains) and a narrowing half (the old one loses), merged when neither applies."""
        change_kind = "role-arn-changed" if kind == "role-arn" else f"{subject.split()[0]}-resource-changed"
        extra = {"principal": name} if kind == "role-arn" else {"asset": name}
        w = self.add_pending((kind, name, WIDENS), _Pending(change_kind, WIDENS, subject, describe,
                                                            {"old": old, "new": new, **extra}, forced=forced_new))
        nw = self.add_pending((kind, name, NARROWS), _Pending(change_kind, NARROWS, subject, describe,
                                                              {"old": old, "new": new, **extra}, forced=forced_old))
        w.pair, nw.pair = neutral, neutral

    def keys(self) -> None:
        old, new = self.old.keys, self.new.keys
        for name in sorted(set(new) - set(old)):
            self.fixed("key-added", NEUTRAL, f"key {name}", f"key {name} ({new[name].arn}) is declared")
        for name in sorted(set(old) - set(new)):
            self.fixed("key-removed", NEUTRAL, f"key {name}",
                       f"key {name} ({old[name].arn}) is no longer declared; slpc stops writing its key policy")
        for name in sorted(set(old) & set(new)):
            o, n = old[name], new[name]
            if o.arn != n.arn:
                self.fixed("key-arn-changed", NEUTRAL, f"key {name}",
                           f"key {name} now refers to the KMS key {n.arn} (was {o.arn})", old=o.arn, new=n.arn)
            self.duties("key", name, "admin", o.admins, n.admins,
                        "manage (not use) the key, including its key policy")

    def backend(self, subject: str, o: Asset, n: Asset, fields: dict) -> None:
        """An API stage's backend and integration role: the SCP admits that role to invoke
        that endpoint from API Gateway's network, so any new pair widens."""
        if n.backend:
            self.fixed("api-backend-changed", WIDENS, subject,
                       f"{subject} now calls SageMaker endpoint {n.backend} as role {n.integration_role}: that role "
                       f"may invoke it from API Gateway's network" + (f" (was {o.backend} as {o.integration_role})"
                                                                     if o.backend else ""),
                       old=o.backend, new=n.backend, **fields)
        else:
            self.fixed("api-backend-changed", NARROWS, subject,
                       f"{subject} no longer calls SageMaker endpoint {o.backend}: role {o.integration_role} "
                       "may no longer invoke it", old=o.backend, new=None, **fields)

    def authorizer(self, subject: str, o, n, fields: dict) -> None:
        """A stage's Cognito authorizer: narrower only for the same pool accepting no new scope
        (a token holding any one of them passes) from no new network, or the authorizer removed
        (the stage is back to IAM roles)."""
        if n is None:
            self.fixed("api-authorizer-changed", NARROWS, subject,
                       f"{subject} no longer admits the users of Cognito user pool {o.pool_arn}: only its grantees",
                       old=o.pool_arn, new=None, **fields)
            return
        narrower = o is not None and o.pool_arn == n.pool_arn and set(n.scopes) <= set(o.scopes) \
            and set(n.networks) <= set(o.networks)
        self.fixed("api-authorizer-changed", NARROWS if narrower else WIDENS, subject,
                   f"{subject} admits the users of Cognito user pool {n.pool_arn} with scopes "
                   f"{', '.join(n.scopes)} from {', '.join(n.networks)}"
                   + (f" (was pool {o.pool_arn}, scopes {', '.join(o.scopes)}, from {', '.join(o.networks)})"
                      if o else ""), old=o.pool_arn if o else None, new=n.pool_arn, **fields)

    def assets(self) -> None:
        old, new = self.old.assets, self.new.assets
        same = {a for a in set(old) & set(new) if old[a].kind == new[a].kind}
        for name in sorted(set(new) - same):
            a = new[name]
            self.fixed("asset-added", NEUTRAL, f"{_kind_word(a)} {name}",
                       f"{_kind_word(a)} {name} ({a.resource_name}) is declared; slpc now governs it", asset=name)
        for name in sorted(set(old) - same):
            a = old[name]
            self.fixed("asset-removed", NEUTRAL, f"{_kind_word(a)} {name}",
                       f"{_kind_word(a)} {name} ({a.resource_name}) is no longer declared; slpc stops writing "
                       "its policy (the deployed one stays until replaced)", asset=name)
        for name in sorted(same):
            self.asset(old[name], new[name])

    def asset(self, o: Asset, n: Asset) -> None:
        word, name = _kind_word(n), n.name
        subject = f"{word} {name}"
        if o.arn != n.arn:
            has_duties_new, has_duties_old = bool(n.admins or n.breakglass), bool(o.admins or o.breakglass)
            self.arn_halves("asset-arn", name, subject, o.arn, n.arn,
                            lambda e, hits: (
                                f"{subject} now names {n.arn} (was {o.arn}): its grants and duties apply there"
                                + (f", e.g. {_grants_list(hits, 2)}" if hits else "")) if e == WIDENS else (
                                f"{o.arn} is no longer {subject}: its grants and duties no longer apply to it"),
                            f"{subject} now names {n.arn} (was {o.arn}); no grant or duty applies to it",
                            has_duties_new, has_duties_old)
        fields = {"asset": name}
        self.duties(word, name, "admin", o.admins, n.admins,
                    f"manage {word} {name}'s configuration, including its policy", **fields)
        self.duties(word, name, "breakglass", o.breakglass, n.breakglass,
                    f"bypass governance retention and delete object versions in {word} {name}", **fields)
        if (o.backend, o.integration_role) != (n.backend, n.integration_role):
            self.backend(subject, o, n, fields)
        if o.authorizer != n.authorizer:
            self.authorizer(subject, o.authorizer, n.authorizer, fields)
        if o.key != n.key:
            self.fixed("bucket-key-changed", NEUTRAL, subject,
                       f"{subject} is now encrypted with key {n.key} (was {o.key})", old=o.key, new=n.key, **fields)
        if o.object_lock != n.object_lock:
            self.object_lock(subject, o.object_lock, n.object_lock, fields)
        for a in [a for a in n.audit if a not in o.audit]:
            self.fixed("bucket-audit-added", NARROWS, subject, f"{subject} now requires audit of {a}",
                       new=a, **fields)
        for a in [a for a in o.audit if a not in n.audit]:
            self.fixed("bucket-audit-removed", WIDENS, subject,
                       f"{subject} no longer requires audit of {a}: reads and writes may go unrecorded",
                       old=a, **fields)
        if o.kind == "bucket" and o.signature_age_ms != n.signature_age_ms:
            longer = n.signature_age_ms > o.signature_age_ms
            self.fixed("bucket-signature-age-changed", WIDENS if longer else NARROWS, subject,
                       f"presigned URLs for {subject} now stay usable for {_ms(n.signature_age_ms)} "
                       f"(was {_ms(o.signature_age_ms)})", old=_ms(o.signature_age_ms),
                       new=_ms(n.signature_age_ms), **fields)

    def object_lock(self, subject: str, o, n, fields: dict) -> None:
        def show(lock):
            return f"{lock[0]} {lock[1]} days" if lock else "none"
        kw = {"old": show(o), "new": show(n), **fields}
        if o is None:
            self.fixed("bucket-object-lock-changed", NARROWS, subject,
                       f"objects in {subject} are now locked against deletion ({show(n)})", **kw)
        elif n is None:
            self.fixed("bucket-object-lock-changed", WIDENS, subject,
                       f"objects in {subject} are no longer locked against deletion (was {show(o)})", **kw)
        else:
            if o[0] != n[0]:
                weaker = n[0] == "governance"
                self.fixed("bucket-object-lock-changed", WIDENS if weaker else NARROWS, subject,
                           f"Object Lock on {subject} is now {n[0]} mode (was {o[0]}): "
                           + ("breakglass roles can bypass it" if weaker else "nobody can bypass or shorten it"),
                           **kw)
            if o[1] != n[1]:
                self.fixed("bucket-object-lock-changed", WIDENS if n[1] < o[1] else NARROWS, subject,
                           f"objects in {subject} are now locked for {n[1]} days (was {o[1]})", **kw)

    def deployment(self) -> None:
        o, n = self.old.deployment, self.new.deployment
        subject = f'deployment "{n.name}"'
        for attr in ("name", "partition", "account", "org"):
            a, b = getattr(o, attr), getattr(n, attr)
            if a != b:
                extra = {"partition": ": every ARN changes", "account": ": every resource ARN changes",
                         "org": ": the guardrails target another organization"}.get(attr, "")
                self.fixed(f"deployment-{attr}-changed", NEUTRAL, subject,
                           f"the deployment's {attr} is now {b or 'unset'} (was {a or 'unset'}){extra}",
                           old=a, new=b)
        for r in [r for r in n.regions if r not in o.regions]:
            self.fixed("deployment-region-added", WIDENS, subject,
                       f"region {r} is allowed: the guardrails let model services run there", new=r)
        for r in [r for r in o.regions if r not in n.regions]:
            self.fixed("deployment-region-removed", NARROWS, subject,
                       f"region {r} is no longer allowed: the guardrails deny model services there", old=r)
        words = {"scp": "service control policies (SCPs)", "rcp": "resource control policies (RCPs)"}
        for g in [g for g in n.guardrails if g not in o.guardrails]:
            self.fixed("deployment-guardrail-added", NARROWS, subject,
                       f"slpc now emits the organization's {words.get(g, g)}", new=g)
        for g in [g for g in o.guardrails if g not in n.guardrails]:
            self.fixed("deployment-guardrail-removed", WIDENS, subject,
                       f"slpc no longer emits the organization's {words.get(g, g)}: that second line of "
                       "defence against the account's own admins is gone", old=g)

    # -- the whole diff ----------------------------------------------------- #
    def run(self) -> list[Change]:
        old_atoms, new_atoms = _atoms(self.old), _atoms(self.new)
        self.atoms_of = {id(self.old): old_atoms, id(self.new): new_atoms}
        self.keys_of = {id(self.old): {_gkey(g) for g in self.old.grants},
                        id(self.new): {_gkey(g) for g in self.new.grants}}
        self.old_cover, self.new_cover = _Cover(old_atoms), _Cover(new_atoms)
        self.grants()
        self.networks()
        self.security_groups()
        self.flow_logs()
        self.roles()
        self.keys()
        self.assets()
        self.deployment()
        for atom, origin in new_atoms:
            if self.old_cover.by(atom) is None:
                self.attribute("new", atom, origin)
        for atom, origin in old_atoms:
            if self.new_cover.by(atom) is None:
                self.attribute("old", atom, origin)
        merged: set[str] = set()
        for key, p in self.pending.items():
            effect = p.direction if (p.hits or p.forced) else NEUTRAL
            if p.pair is not None and effect == NEUTRAL:
                other = self.pending[(key[0], key[1], NARROWS if p.direction == WIDENS else WIDENS)]
                if other.hits or other.forced:
                    continue  # the other half carries the change
                if (key[0], key[1]) in merged:
                    continue
                merged.add((key[0], key[1]))
                self.changes.append(Change(p.kind, NEUTRAL, p.subject, p.pair, **p.fields))
                continue
            hits = list({id(g): g for g in p.hits}.values())
            self.changes.append(Change(p.kind, effect, p.subject, p.describe(effect, hits), **p.fields))
        return sorted(set(self.changes), key=_order)


_CATEGORY = ("grant", "network", "role", "key", "bucket", "repository", "endpoint", "api", "asset", "deployment")


def _order(c: Change) -> tuple:
    cat = c.kind.split("-")[0]
    return (EFFECTS.index(c.effect), _CATEGORY.index(cat) if cat in _CATEGORY else len(_CATEGORY),
            c.subject, c.kind, c.description)


def _kind_word(a: Asset) -> str:
    return ASSET_KINDS[a.kind].word


def _ms(ms: int) -> str:
    for unit, size in (("hours", 3_600_000), ("minutes", 60_000), ("seconds", 1000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def diff_models(old: Model, new: Model) -> list[Change]:
    """Every change in meaning from `old` to `new`, classified, in a stable order
    (widens, narrows, neutral; then grants, networks, roles, keys, assets, deployment)."""
    return _Differ(old, new).run()
