"""Resource-side denies that make a resource policy self-protecting.

Identity policies say what each role may do; a resource policy must also hold
when some principal carries far broader IAM permissions (`*:*`). These helpers
build, for any resource kind, the denies that remove every use the spec does not
grant: to principals with no grant at all, and to grantees outside their prefixes,
networks or time window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import product
from typing import Callable, Iterable

from slpc.compiler.model import Model

from . import perimeter
from slpc.policy.document import Condition, Principal, Statement
from .grants import SCOPE_LABEL, sid

_ANY = Principal.any()
MAX_EXPIRY_SPLITS = 6  # 2**6 deny statements at most for one principal's overlapping grants


@dataclass(frozen=True)
class Entitlement:
    """A principal may use an action on the resource under a prefix, from networks, until."""

    principal: str  # declared name
    action: str
    prefix: str
    networks: tuple[str, ...]
    until: str | None


def deny_ungranted(model: Model, universe: Iterable[str], ents: list[Entitlement],
                   resources: Callable[[str], tuple[str, ...]], label: Callable[[str], str]) -> list[Statement]:
    """Deny each action of `universe` to every principal without an entitlement to it.

    Actions are grouped by who holds them; `label(action)` names the group in its Sid
    (e.g. "Object" -> DenyObjectActionsExceptTrainer, DenyUngrantedObjectActions).
    """
    holders: dict[str, tuple[str, ...]] = {
        a: tuple(sorted({e.principal for e in ents if e.action == a})) for a in universe
    }
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for action in sorted(universe):
        groups[(label(action), holders[action], resources(action))].append(action)
    out = []
    for (kind, names, res), actions in sorted(groups.items()):
        name = sid("Deny", kind, "ActionsExcept", *names) if names else sid("DenyUngranted", kind, "Actions")
        arns = (model.principals[n].arn for n in names)
        out.append(Statement("Deny", actions=tuple(actions), resources=res, sid=name,
                             principal=_ANY, conditions=perimeter.principal_is_not(arns)))
    return out


def _scope_order(scope: tuple[str, tuple[str, ...], str | None]) -> tuple:
    prefix, nets, until = scope
    return (prefix, nets, until or "")


Target = Callable[[str, str, tuple[str, ...]], tuple[tuple[str, ...], tuple[Condition, ...], tuple[str, ...]]]


def deny_outside_grants(model: Model, ents: list[Entitlement], services: tuple[str, ...],
                        kind_of: Callable[[str], str], target: Target,
                        contains: Callable[[str, str], bool] = lambda outer, inner: inner.startswith(outer),
                        guarded: Iterable[str] | None = None) -> list[Statement]:
    """Per grantee: deny its actions outside its prefixes, networks and time windows.

    `target(kind, mode, prefixes)` gives (resources, conditions, not_resources) for
    actions of one kind (how a prefix applies to them): mode "limit" selects
    everything outside the prefixes, mode "within" everything inside them (no
    prefixes = the whole resource). `guarded`: the actions the resource policy
    denies to every principal without an entitlement (`deny_ungranted`'s universe;
    None: every action of `ents`); only those merge across principals. `contains(outer,
    inner)`: every resource under prefix `inner` is under `outer` (key prefixes: `inner`
    starts with `outer`; API routes: `compiler.routes.contains`).
    """
    guarded = None if guarded is None else frozenset(guarded)
    out: list[Statement] = []
    by_principal: dict[str, dict[str, list[Entitlement]]] = defaultdict(lambda: defaultdict(list))
    for e in ents:
        by_principal[e.principal][e.action].append(e)
    # Statements that differ only in their principals are merged: prefix limits when
    # the actions are the same, and network/expiry limits for principals whose every
    # grant here shares one (networks, until) class (a guarded action such a principal
    # does not hold is denied to it anyway; an unguarded one, such as GetBucketLocation,
    # which an admin may use anywhere, merges only among the principals that hold it).
    limits: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    classes: dict[tuple[tuple[str, ...], str | None], tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
    loose: dict[tuple, set[str]] = defaultdict(set)  # (class, kind, unguarded action) -> its holders
    for pname in sorted(by_principal):
        who = perimeter.principal_is([model.principals[pname].arn])
        groups: dict[tuple, list[str]] = defaultdict(list)
        for action, es in sorted(by_principal[pname].items()):
            key = (kind_of(action), tuple(sorted({(e.prefix, e.networks, e.until) for e in es}, key=_scope_order)))
            groups[key].append(action)
        own_classes = {(n, u) for (_, scopes) in groups for _, n, u in scopes}
        for (kind, scopes), actions in groups.items():
            prefixes = sorted({p for p, _, _ in scopes})
            if "" not in prefixes:
                limits[(kind, tuple(prefixes), tuple(actions))].append(pname)
            if len(own_classes) == 1:
                cls = next(iter(own_classes))
                mine = [a for a in actions if guarded is None or a in guarded]
                if mine:
                    names, kinds, acts = classes[cls]
                    names.add(pname)
                    kinds.add(kind)
                    acts.update(mine)
                for a in actions:
                    if guarded is not None and a not in guarded:
                        loose[(cls, kind, a)].add(pname)
                continue
            # one deny per prefix, exempting what the prefix and every prefix containing it allow:
            # a duty on the whole bucket (breakglass) holds inside a grant's prefix too, and the
            # checker refuses nested prefixes whose grants differ (E408)
            for prefix in prefixes:
                scoped = sorted({(n, u) for p, n, u in scopes if contains(p, prefix)},
                                key=lambda c: (c[0], c[1] or ""))
                res, conds, _ = target(kind, "within", (prefix,) if prefix else ())
                for extra in _outside_conditions(model, scoped, services):
                    out.append(_deny(actions, res, (), (who,) + conds + extra, sid("Deny", pname, "OutsideGrant")))
    merged: list[Statement] = []
    for (kind, prefixes, actions), names in sorted(limits.items()):
        res, conds, not_res = target(kind, "limit", prefixes)
        merged.append(_deny(actions, res, not_res, (_principals(model, names),) + conds,
                            sid("Deny", _label(names), SCOPE_LABEL.get(kind, ""), "OutsidePrefixes")))
    by_holders: dict[tuple, set[str]] = defaultdict(set)
    for (cls, kind, action), names in loose.items():
        by_holders[(cls, kind, tuple(sorted(names)))].add(action)
    entries = [(cls, names, kinds, acts) for cls, (names, kinds, acts) in classes.items()]
    entries += [(cls, set(names), {kind}, acts) for (cls, kind, names), acts in by_holders.items()]
    for cls, names, kinds, acts in sorted(entries, key=lambda e: (e[0][0], e[0][1] or "", sorted(e[1]), sorted(e[3]))):
        res = tuple(sorted({r for k in kinds for r in target(k, "within", ())[0]}))
        for extra in _outside_conditions(model, [cls], services):
            merged.append(_deny(acts, res, (), (_principals(model, names),) + extra,
                                sid("Deny", _label(names), "OutsideGrant")))
    return merged + out


def _principals(model: Model, names: Iterable[str]) -> Condition:
    return perimeter.principal_is(model.principals[n].arn for n in names)


def _label(names: Iterable[str]) -> str:
    names = sorted(names)
    return "".join(sid(n) for n in names) if len(names) <= 3 else sid(names[0], "AndOthers")


def _outside_conditions(model: Model, classes, services) -> list[tuple[Condition, ...]]:
    out = []
    for nets, until in _complement(classes):
        extra: tuple[Condition, ...] = ()
        if nets is not None:
            extra += perimeter.outside(model, nets, services)
        if until is not None:
            extra += perimeter.at_or_after(until)
        out.append(extra)
    return out


def _complement(classes: list[tuple[tuple[str, ...], str | None]]):
    """The conjunctions whose union is "in no class": (networks to be outside of, expiry passed).

    not OR_c (net_c AND before_c) = AND_c (outside_c OR after_c); distributing gives one
    conjunction per choice, for each class with an expiry, of which side it takes.
    Classes without expiry always take the network side. Even a network side equal
    to the resource's whole union is kept: the resource-wide deny exempts calls made
    through AWS services, and a grant holds only from its own networks.
    """
    timed = [c for c in classes if c[1] is not None]
    if len(timed) > MAX_EXPIRY_SPLITS:  # fall back: outside all networks, or after the last expiry
        timed = []
        classes = [(tuple(sorted({n for c in classes for n in c[0]})), None)]
    untimed_nets = {n for c in classes if c[1] is None for n in c[0]}
    seen = []
    for choice in product((True, False), repeat=len(timed)):  # True: network side
        nets = set(untimed_nets)
        expiries = []
        for (cnets, cuntil), net_side in zip(timed, choice):
            if net_side:
                nets |= set(cnets)
            else:
                expiries.append(cuntil)
        has_net_side = bool(untimed_nets) or any(choice)
        net_part = tuple(sorted(nets)) if has_net_side else None
        until = max(expiries) if expiries else None
        if (net_part, until) not in seen:
            seen.append((net_part, until))
    return seen


def _deny(actions, resources, not_resources, conditions, name) -> Statement:
    return Statement("Deny", actions=tuple(sorted(actions)), resources=resources, not_resources=not_resources,
                     conditions=tuple(sorted(conditions, key=lambda c: (c.operator, c.key))),
                     sid=name, principal=_ANY)
