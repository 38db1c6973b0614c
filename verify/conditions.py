"""IAM condition operators and policy variables, compiled once into predicates.

A request context maps lower-cased key names to tuples of string values (one
value for a single-valued key). Each `Condition` of a policy becomes a predicate
over that context, so per-request work is a dict look-up plus a precompiled test.

Semantics (IAM User Guide, "IAM JSON policy elements: Condition operators"):
- the values listed for one key are ORed; a negated operator (`StringNotEquals`,
  `NotIpAddress`, `ArnNotLike` ...) is the complement of its positive form;
- a missing key makes a positive operator false and a negated one true, and any
  `...IfExists` variant true; an empty multi-valued key counts as missing;
- `ForAllValues:` is true on a missing or empty key, `ForAnyValue:` false
  (true again with `IfExists`);
- a plain operator on a multi-valued key matches when any context value
  matches (its negation when none does);
- `Null` tests presence and has no set or `IfExists` form;
- policy variables (`${aws:username}`, `${*}`, `${key, 'default'}`) are expanded
  only for `Version: 2012-10-17`; an unresolved variable without a default makes
  that one policy value match nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Callable, Mapping

from slpc.policy.document import VERSION, Condition

Context = Mapping[str, tuple[str, ...]]
Predicate = Callable[[Context], bool]
Test = Callable[[str], bool]

# A policy value as segments: (text, literal). Text from a policy variable is
# literal (never a wildcard); text written in the policy may contain `*`/`?`.
Value = tuple[tuple[str, bool], ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?")
_SPECIAL_VARS = frozenset("*?$")


# --------------------------------------------------------------------------- #
# Policy variables


@dataclass(frozen=True)
class Template:
    """A policy string with `${...}` variables, resolved against each request.

    Each part is ("text", written text, None), ("literal", char, None) for
    `${*}` `${?}` `${$}`, or ("var", lower-cased key, default or None).
    """

    parts: tuple[tuple[str, str, str | None], ...]

    def resolve(self, ctx: Context) -> Value | None:
        """The segments for this request, or None if a variable has no value."""
        out: list[tuple[str, bool]] = []
        for kind, text, default in self.parts:
            if kind == "text":
                out.append((text, False))
            elif kind == "literal":
                out.append((text, True))
            else:
                vals = ctx.get(text)
                if vals is not None and len(vals) == 1:
                    out.append((vals[0], True))
                elif default is not None:
                    out.append((default, True))
                else:
                    return None
        return tuple(out)


def parse_template(text: str, version: str | None) -> Template | None:
    """A Template when `text` uses variables under the 2012-10-17 grammar, else None."""
    if version != VERSION or "${" not in text:
        return None
    parts: list[tuple[str, str, str | None]] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(("text", text[pos : m.start()], None))
        body = m.group(1).strip()
        vm = _VAR_BODY.fullmatch(m.group(1))
        if body in _SPECIAL_VARS:
            parts.append(("literal", body, None))
        elif vm is not None:
            parts.append(("var", vm.group(1).lower(), vm.group(2)))
        else:
            parts.append(("text", m.group(0), None))
        pos = m.end()
    if pos < len(text):
        parts.append(("text", text[pos:], None))
    return Template(tuple(parts))


def plain(text: str) -> Value:
    return ((text, False),)


def value_text(value: Value) -> str:
    return "".join(t for t, _ in value)


def glob_source(value: Value, star: str = ".*", qmark: str = ".") -> str:
    """Regex source for an IAM wildcard pattern; literal segments are escaped."""
    out = []
    for text, literal in value:
        if literal:
            out.append(re.escape(text))
            continue
        for ch in text:
            out.append(star if ch == "*" else qmark if ch == "?" else re.escape(ch))
    return "".join(out)


# --------------------------------------------------------------------------- #
# Value tests: one context value against all (ORed) policy values


def _string_equals(values: tuple[Value, ...]) -> Test:
    return frozenset(value_text(v) for v in values).__contains__


def _string_equals_ic(values: tuple[Value, ...]) -> Test:
    wanted = frozenset(value_text(v).lower() for v in values)
    return lambda cv: cv.lower() in wanted


def _string_like(values: tuple[Value, ...]) -> Test:
    if all(literal or ("*" not in t and "?" not in t) for v in values for t, literal in v):
        return _string_equals(values)
    rx = re.compile("|".join(f"(?:{glob_source(v)})" for v in values), re.DOTALL)
    return lambda cv: rx.fullmatch(cv) is not None


def _arn_source(value: Value) -> str:
    """ARN pattern: wildcards stay within one of the first five components."""
    text = value_text(value)
    if text.count(":") < 5:
        return glob_source(value)
    # Split segment-wise at the first five colons, keeping literal flags.
    comps: list[list[tuple[str, bool]]] = [[]]
    for seg, literal in value:
        pieces = seg.split(":")
        for i, piece in enumerate(pieces):
            if i and len(comps) < 6:
                comps.append([])
            elif i:
                comps[-1].append((":", True))
            comps[-1].append((piece, literal))
    head = [glob_source(tuple(c), "[^:]*", "[^:]") for c in comps[:5]]
    return ":".join(head + [glob_source(tuple(comps[5]))])


def _arn_like(values: tuple[Value, ...]) -> Test:
    rx = re.compile("|".join(f"(?:{_arn_source(v)})" for v in values), re.DOTALL)
    return lambda cv: rx.fullmatch(cv) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


@lru_cache(maxsize=4096)
def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or epoch-seconds text."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": float.__eq__,
    "LessThan": float.__lt__,
    "LessThanEquals": float.__le__,
    "GreaterThan": float.__gt__,
    "GreaterThanEquals": float.__ge__,
}


def _ordered(parse: Callable[[str], float | None], relation: str) -> Callable[[tuple[Value, ...]], Test]:
    """Numeric*/Date* tests: `context <relation> policy` for any policy value."""
    compare = _COMPARE[relation]

    def factory(values: tuple[Value, ...]) -> Test:
        bounds = [b for b in (parse(value_text(v)) for v in values) if b is not None]

        def test(cv: str) -> bool:
            x = parse(cv)
            return x is not None and any(compare(x, b) for b in bounds)

        return test

    return factory


def _bool(values: tuple[Value, ...]) -> Test:
    wanted = frozenset(value_text(v).lower() for v in values)
    return lambda cv: cv.lower() in wanted


def _decode(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text


def _binary_equals(values: tuple[Value, ...]) -> Test:
    wanted = frozenset(_decode(value_text(v)) for v in values)
    return lambda cv: _decode(cv) in wanted


@lru_cache(maxsize=4096)
def _address(text: str) -> tuple[int, int] | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return ip.version, int(ip)


def _ip_address(values: tuple[Value, ...]) -> Test:
    nets: list[tuple[int, int, int]] = []  # (version, mask, network)
    for v in values:
        try:
            net = ipaddress.ip_network(value_text(v).strip(), strict=False)
        except ValueError:
            continue
        nets.append((net.version, int(net.netmask), int(net.network_address)))

    def test(cv: str) -> bool:
        addr = _address(cv)
        if addr is None:
            return False
        version, n = addr
        return any(ver == version and n & mask == base for ver, mask, base in nets)

    return test


# base operator -> (test factory, negated)
_OPERATORS: dict[str, tuple[Callable[[tuple[Value, ...]], Test], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ic, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ic, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_ip_address, False),
    "NotIpAddress": (_ip_address, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}
for _rel in _COMPARE:
    _OPERATORS[f"Numeric{_rel}"] = (_ordered(_number, _rel), False)
    _OPERATORS[f"Date{_rel}"] = (_ordered(parse_date, _rel), False)
_OPERATORS["NumericNotEquals"] = (_ordered(_number, "Equals"), True)
_OPERATORS["DateNotEquals"] = (_ordered(parse_date, "Equals"), True)

OPERATORS: frozenset[str] = frozenset(_OPERATORS) | {"Null"}


@lru_cache(maxsize=16384)
def _cached_test(base: str, values: tuple[Value, ...]) -> Test:
    return _OPERATORS[base][0](values)


# --------------------------------------------------------------------------- #
# Compiling one Condition


@dataclass(frozen=True)
class ParsedOperator:
    set_op: str | None  # "ForAllValues" | "ForAnyValue" | None
    base: str
    if_exists: bool


def parse_operator(operator: str) -> ParsedOperator | None:
    """Split `ForAnyValue:StringLikeIfExists` into its parts; None if unknown."""
    set_op = None
    name = operator
    for prefix in ("ForAllValues", "ForAnyValue"):
        if name.startswith(prefix + ":"):
            set_op, name = prefix, name[len(prefix) + 1 :]
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    if base not in OPERATORS or (base == "Null" and (set_op or if_exists)):
        return None
    return ParsedOperator(set_op, base, if_exists)


def _decide(vals: tuple[str, ...] | None, test: Test, negated: bool, set_op: str | None, if_exists: bool) -> bool:
    """The missing-key, set-operator and negation rules around one value test."""
    if not vals:
        if set_op == "ForAllValues":
            return True
        if set_op == "ForAnyValue":
            return if_exists
        return negated or if_exists
    if set_op == "ForAllValues":
        return all(test(v) != negated for v in vals)
    if set_op == "ForAnyValue":
        return any(test(v) != negated for v in vals)
    for v in vals:
        if test(v):
            return not negated
    return negated


def _null_predicate(key: str, values: tuple[str, ...]) -> Predicate:
    wanted = {v.lower() for v in values}
    when_absent, when_present = "true" in wanted, "false" in wanted
    return lambda ctx: when_present if ctx.get(key) else when_absent


def compile_condition(cond: Condition, version: str | None) -> Predicate | None:
    """A predicate for one operator/key pair, or None if the operator is unknown."""
    parsed = parse_operator(cond.operator)
    if parsed is None:
        return None
    key = cond.key.lower()
    if parsed.base == "Null":
        return _null_predicate(key, cond.values)
    factory, negated = _OPERATORS[parsed.base]
    set_op, if_exists = parsed.set_op, parsed.if_exists
    templates = [parse_template(v, version) for v in cond.values]

    if not any(templates):
        test = factory(tuple(plain(v) for v in cond.values))
        if set_op is None and not negated:
            # The common shape, kept free of the generic dispatch.
            def fast(ctx: Context) -> bool:
                vals = ctx.get(key)
                if not vals:
                    return if_exists
                for v in vals:
                    if test(v):
                        return True
                return False

            return fast
        if set_op is None:

            def fast_negated(ctx: Context) -> bool:
                vals = ctx.get(key)
                if vals:
                    for v in vals:
                        if test(v):
                            return False
                return True

            return fast_negated
        return lambda ctx: _decide(ctx.get(key), test, negated, set_op, if_exists)

    base = parsed.base
    statics = [None if t else plain(v) for v, t in zip(cond.values, templates)]

    def with_variables(ctx: Context) -> bool:
        resolved = []
        for static, t in zip(statics, templates):
            value = static if t is None else t.resolve(ctx)
            if value is not None:
                resolved.append(value)
        return _decide(ctx.get(key), _cached_test(base, tuple(resolved)), negated, set_op, if_exists)

    return with_variables
