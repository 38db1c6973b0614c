"""A size optimizer for policy documents that never changes what they allow or deny.

Every artifact kind goes through `optimize` once, in `targets.build`, so no target
merges statements its own way. Two rewrites, both exact (same decision for every
request, so neither can widen access):

- Normalise: values of every list element (actions, resources, principals,
  condition values) deduplicated and sorted; conditions sorted. Lists are ORs.
- Merge: two statements that are identical except in exactly one of Action,
  Resource or Principal become one statement listing the union of that element;
  likewise two identical except in the values of one condition whose values are
  ORed (a positive operator, plain or `ForAnyValue:`): "k in A" or "k in B" is
  "k in A or B", for a missing key too (both false, or both true with `IfExists`).
  A statement matches a request when its action AND resource AND principal AND
  conditions match, so with everything else equal, "S1 or S2" is the statement with
  the union. This holds for Allow and Deny alike. Negative forms (NotAction,
  NotResource, NotPrincipal) are never merged, nor merged with positive forms; an
  absent element is never merged with a present one (absent is not "nothing"); the
  wildcard principal is never merged with a list. A negated operator
  (`StringNotLike` ...) or `ForAllValues:` is never merged: "k not in A" or "k not
  in B" is not "k not in A or B". Statements differing in two conditions never
  merge, so per-grantee denies (each on its own principal and prefix) stay apart.

The result is never larger (a merge drops a whole statement and adds only values it
did not repeat), introduces no value the input did not have (so no new wildcard),
and is deterministic: a merged statement stands where its first member stood and
keeps that member's Sid, so Sids stay unique and stable for tools that key on them.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from operator import attrgetter, lt

from slpc.policy.document import CONTENT, Condition, PolicyDocument, Principal, Statement


def _values(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _principal(p: Principal | None) -> Principal | None:
    if p is None or p.wildcard:
        return p
    merged: dict[str, set[str]] = {}
    for kind, vals in p.entries:
        merged.setdefault(kind, set()).update(vals)
    return Principal(entries=tuple((k, tuple(sorted(v))) for k, v in sorted(merged.items())))


def _ascending(values: tuple) -> bool:
    """Whether `_values` would return the values as they are: a tuple, sorted, each once."""
    return _ascending_lists((values,))


def _ascending_lists(lists) -> bool:
    """`_ascending` of each (most lists in a statement are empty or one value)."""
    for values in lists:
        if type(values) is not tuple or (len(values) > 1 and not all(map(lt, values, values[1:]))):
            return False
    return True


_LISTS = attrgetter("actions", "resources", "not_actions", "not_resources")


def _is_normal(s: Statement) -> bool:
    """Whether `normalise` would return an equal statement, as it does for nearly every
    statement a target builds: then it need not build one. (Conditions are named
    tuples, so they compare as normalise sorts them: operator, key, values.)"""
    if not _ascending_lists(_LISTS(s)):
        return False
    conditions = s.conditions
    if conditions and not (_ascending_lists([c.values for c in conditions]) and _ascending(conditions)):
        return False
    return _normal_principal(s.principal) and _normal_principal(s.not_principal)


def _normal_principal(p: Principal | None) -> bool:
    """Whether `_principal` would return an equal principal: kinds once each and in
    order, each with its values sorted and once."""
    if p is None or p.wildcard:
        return True
    entries = p.entries
    return (type(entries) is tuple and all(type(e) is tuple and len(e) == 2 and _ascending(e[1]) for e in entries)
            and _ascending(tuple(kind for kind, _ in entries)))


def normalise(s: Statement) -> Statement:
    """The same statement with sorted, deduplicated values and sorted conditions."""
    if _is_normal(s):
        return s
    conditions = tuple(sorted({Condition(c.operator, c.key, _values(c.values)) for c in s.conditions},
                              key=lambda c: (c.operator, c.key, c.values)))
    return Statement(effect=s.effect, actions=_values(s.actions), resources=_values(s.resources),
                     conditions=conditions, sid=s.sid, principal=_principal(s.principal),
                     not_principal=_principal(s.not_principal), not_actions=_values(s.not_actions),
                     not_resources=_values(s.not_resources))


def _without(element: str) -> attrgetter:
    """What must be equal for two statements to merge on `element`: all but it and the Sid."""
    return attrgetter(*(f for f in CONTENT if f != element))


def _union_principal(a: Principal, b: Principal) -> Principal:
    return _principal(Principal(entries=a.entries + b.entries))


# Each mergeable element: what else must be equal, whether a statement may take part,
# and how two values combine.
_ELEMENTS = {
    "actions": (_without("actions"), lambda s: bool(s.actions), lambda a, b: _values(a + b)),
    "resources": (_without("resources"), lambda s: bool(s.resources), lambda a, b: _values(a + b)),
    "principal": (_without("principal"), lambda s: s.principal is not None and not s.principal.wildcard,
                  _union_principal),
}


def _merge_on(statements: list[Statement], element: str) -> list[Statement]:
    """One pass: statements equal but for `element` merged into the first of them."""
    rest, eligible, combine = _ELEMENTS[element]
    out: list[Statement] = []
    home: dict[tuple, int] = {}  # the statement without Sid and element -> its index in out
    for s in statements:
        if not eligible(s):
            out.append(s)
            continue
        key = rest(s)
        i = home.get(key)
        if i is None:
            home[key] = len(out)
            out.append(s)
        else:
            out[i] = replace(out[i], **{element: combine(getattr(out[i], element), getattr(s, element))})
    return out


_ORED = frozenset(("StringEquals", "StringEqualsIgnoreCase", "StringLike", "NumericEquals", "NumericLessThan",
                   "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
                   "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool",
                   "BinaryEquals", "IpAddress", "ArnEquals", "ArnLike"))


@cache  # a handful of operators, asked for every condition of every statement
def ored(operator: str) -> bool:
    """Whether a request meets the condition when it meets it for one of its values."""
    if operator == "Null":
        return True
    base = operator.removeprefix("ForAnyValue:")
    return base.removesuffix("IfExists") in _ORED


def _condition_keys(s: Statement) -> dict[tuple, int]:
    """Per condition with ORed values: the statement without that condition's values -> its index."""
    rest = (s.effect, s.principal, s.not_principal, s.actions, s.not_actions, s.resources, s.not_resources)
    return {(*rest, s.conditions[:i] + s.conditions[i + 1:], c.operator, c.key): i
            for i, c in enumerate(s.conditions) if ored(c.operator)}


def _merge_conditions(statements: list[Statement]) -> list[Statement]:
    """One pass: statements equal but for one ORed condition's values merged into the first."""
    out: list[Statement] = []
    home: dict[tuple, int] = {}  # a key of _condition_keys -> the statement's index in out
    for s in statements:
        keys = _condition_keys(s)
        for key in keys:
            if key in home:
                break
        else:
            key = None
        if key is None:
            home.update((k, len(out)) for k in keys)
            out.append(s)
            continue
        i = home[key]
        old_keys = _condition_keys(out[i])
        for k in old_keys:
            del home[k]
        at, c = old_keys[key], out[i].conditions[old_keys[key]]
        union = Condition(c.operator, c.key, _values(c.values + s.conditions[keys[key]].values))
        out[i] = normalise(replace(out[i], conditions=out[i].conditions[:at] + (union,) + out[i].conditions[at + 1:]))
        home.update((k, i) for k in _condition_keys(out[i]) if k not in home)
    return out


def optimize_statements(statements: tuple[Statement, ...] | list[Statement]) -> tuple[Statement, ...]:
    """Normalise, then merge until no two statements differ in only one element."""
    current = [normalise(s) for s in statements]
    while True:
        before = len(current)
        for element in _ELEMENTS:
            current = _merge_on(current, element)
        current = _merge_conditions(current)
        if len(current) == before:
            return tuple(current)


def optimize(doc: PolicyDocument) -> PolicyDocument:
    """The optimized document, marked as such: a target that optimizes a document to
    measure it keeps the result, and `build`'s own pass over every document then
    returns it as it is instead of optimizing it again."""
    if doc.__dict__.get("_optimized"):
        return doc
    out = replace(doc, statements=optimize_statements(doc.statements))
    object.__setattr__(out, "_optimized", True)
    return out
