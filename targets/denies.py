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
from slpc.dsl.diagnostics import Diagnostic, warning

from . import perimeter
from .document import Condition, Principal, Statement
from .grants import sid

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


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


Target = Callable[[str, str, tuple[str, ...]], tuple[tuple[str, ...], tuple[Condition, ...], tuple[str, ...]]]


def deny_outside_grants(model: Model, ents: list[Entitlement], union: frozenset[str], services: tuple[str, ...],
                        kind_of: Callable[[str], str], target: Target,
                        where: str) -> tuple[list[Statement], list[Diagnostic]]:
    """Per grantee: deny its actions outside its prefixes, networks and time windows.

    `target(kind, mode, prefixes)` gives (resources, conditions, not_resources) for
    actions of one kind (how a prefix applies to them): mode "limit" selects
    everything outside the prefixes, mode "within" everything inside them (no
    prefixes = the whole resource).
    """
    out: list[Statement] = []
    diags: list[Diagnostic] = []
    by_principal: dict[str, dict[str, list[Entitlement]]] = defaultdict(lambda: defaultdict(list))
    for e in ents:
        by_principal[e.principal][e.action].append(e)
    for pname in sorted(by_principal):
        arn = model.principals[pname].arn
        who = perimeter.principal_is([arn])
        # actions that share the same set of (prefix, networks, until) are treated together
        groups: dict[tuple, list[str]] = defaultdict(list)
        for action, es in sorted(by_principal[pname].items()):
            key = (kind_of(action), tuple(sorted({(e.prefix, e.networks, e.until) for e in es}, key=_scope_order)))
            groups[key].append(action)
        for (kind, scopes), actions in groups.items():
            prefixes = sorted({p for p, _, _ in scopes})
            if "" not in prefixes:
                res, conds, not_res = target(kind, "limit", tuple(prefixes))
                out.append(_deny(actions, res, not_res, (who,) + conds, sid("Deny", pname, "OutsidePrefixes")))
            nested = any(_overlap(a, b) for a in prefixes for b in prefixes if a != b)
            if nested and len({(n, u) for _, n, u in scopes}) > 1:
                diags.append(warning(
                    "W330", f"`{pname}` has grants on nested prefixes of {where} with different networks or expiry",
                    None, "the identity policy enforces each grant exactly; the resource policy enforces their union"))
            for prefix in (prefixes if not nested else [None]):
                # the grants that apply under this prefix (all of them when prefixes nest)
                classes = sorted({(n, u) for p, n, u in scopes if prefix is None or p == prefix},
                                 key=lambda c: (c[0], c[1] or ""))
                scope_prefixes = tuple(prefixes) if prefix is None else (prefix,)
                if "" in scope_prefixes:
                    scope_prefixes = ()
                for nets, until in _complement(classes, union):
                    res, conds, _ = target(kind, "within", scope_prefixes)
                    extra = ()
                    if nets is not None:
                        extra += perimeter.outside(model, nets, services)
                    if until is not None:
                        extra += perimeter.at_or_after(until)
                    out.append(_deny(actions, res, (), (who,) + conds + extra,
                                     sid("Deny", pname, "OutsideGrant")))
    return out, diags


def _complement(classes: list[tuple[tuple[str, ...], str | None]], union: frozenset[str]):
    """The conjunctions whose union is "in no class": (networks to be outside of, expiry passed).

    not OR_c (net_c AND before_c) = AND_c (outside_c OR after_c); distributing gives one
    conjunction per choice, for each class with an expiry, of which side it takes.
    Classes without expiry always take the network side. A conjunction whose network
    side is the resource's whole union and has no expiry is already covered by the
    resource-wide network deny, and is skipped.
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
        if net_part is not None and until is None and set(net_part) >= union:
            continue
        if (net_part, until) not in seen:
            seen.append((net_part, until))
    return seen


def _deny(actions, resources, not_resources, conditions, name) -> Statement:
    return Statement("Deny", actions=tuple(sorted(actions)), resources=resources, not_resources=not_resources,
                     conditions=tuple(sorted(conditions, key=lambda c: (c.operator, c.key))),
                     sid=name, principal=_ANY)
