"""Condition checks: operators, keys, and whether operator, key and values agree."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re

from slpc.verify.catalogue import Catalogue, ConditionKey

from .registry import (  # noqa: F401  (OPERATOR_TYPES, parse_operator: re-exported)
    CONDITION, CONDITION_KEY, OPERATOR_TYPES, Context, FindingType, Operator, check, memo, parse_operator,
)

E, SW, W, S = FindingType.ERROR, FindingType.SECURITY_WARNING, FindingType.WARNING, FindingType.SUGGESTION

# Operators that compare exactly, so a * or ? in the value is a literal character.
EXACT_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "ArnEquals", "ArnNotEquals"}
# ARN-typed keys also work with string operators.
_ALSO_ACCEPTS = {"ARN": {"String"}}


# Each check below judges one condition: (operator, key, values as texts), or only
# (operator, key), which a build repeats in thousands of conditions.
C, K = CONDITION, CONDITION_KEY


def _condition_key(cat: Catalogue, key: str) -> ConditionKey | None:
    """The catalogue's entry for a key: a build's thousands of distinct conditions name a few dozen keys."""
    known = memo(cat, "condition_key")
    if key not in known:
        known[key] = cat.condition_key(key)
    return known[key]


@check("INVALID_CONDITION_OPERATOR", E, "A condition operator IAM does not define.")
def invalid_operator(ctx: Context):
    for s in ctx.statements:
        block = s.get("Condition")
        for op_text in block if isinstance(block, dict) else ():
            if parse_operator(op_text) is None:
                yield f"{s.path}.Condition.{op_text}", f"The condition operator {op_text} is not valid."


@check("EMPTY_OBJECT_CONDITION", S, "An empty Condition block or operator block.")
def empty_object_condition(ctx: Context):
    for s in ctx.statements:
        block = s.get("Condition")
        if block == {}:
            yield f"{s.path}.Condition", "This condition block is empty. Remove it or specify conditions."
        for op_text, keys in (block.items() if isinstance(block, dict) else ()):
            if keys == {}:
                yield f"{s.path}.Condition.{op_text}", "This operator has no keys. Remove it or specify conditions."


@check("NULL_WITH_IF_EXISTS", E, "The Null operator with an IfExists suffix.", scope=K)
def null_with_if_exists(cat: Catalogue, op: Operator, key: str):
    if op.base == "Null" and op.if_exists:
        yield "The Null condition operator cannot be used with the IfExists suffix."


@check("NULL_WITH_QUALIFIER", S, "Null with ForAllValues/ForAnyValue, which is always true/false.", scope=K)
def null_with_qualifier(cat: Catalogue, op: Operator, key: str):
    if op.base == "Null" and op.qualifier:
        yield f"Avoid Null with {op.qualifier}; the result does not depend on the request."


@check("INVALID_CONDITION_KEY_FORMAT", E, "A condition key not of the form prefix:name.", scope=K)
def invalid_key_format(cat: Catalogue, op: Operator, key: str):
    prefix, sep, name = key.partition(":")
    if not (prefix and sep and name):
        yield f"The condition key {key!r} is not of the form service:keyname."


@check("INVALID_GLOBAL_CONDITION_KEY", E, "An aws: condition key that is not a global condition key.", scope=K)
def invalid_global_key(cat: Catalogue, op: Operator, key: str):
    if key.lower().startswith("aws:") and cat.global_key(key) is None:
        yield f"The condition key {key} does not exist. Use a valid global condition key."


@check("INVALID_SERVICE", E, "A condition key whose service prefix AWS does not define.", scope=K)
def invalid_service(cat: Catalogue, op: Operator, key: str):
    prefix, sep, name = key.partition(":")
    if sep and name and not cat.knows_key_prefix(prefix) and cat.service(prefix) is None:
        yield f"The service {prefix} does not exist. Use a valid service name."


@check("INVALID_SERVICE_CONDITION_KEY", E, "A service condition key its service does not define.", scope=K)
def invalid_service_key(cat: Catalogue, op: Operator, key: str):
    prefix, sep, name = key.partition(":")
    known_prefix = cat.knows_key_prefix(prefix) or cat.service(prefix) is not None
    if sep and name and prefix.lower() != "aws" and known_prefix and _condition_key(cat, key) is None:
        yield f"The condition key {key} does not exist in the service {prefix}."


@check("TYPE_MISMATCH", W, "An operator of the wrong type for its key (e.g. IpAddress on a String key).", scope=K)
def type_mismatch(cat: Catalogue, op: Operator, key: str):
    found = _condition_key(cat, key)
    if found and op.type is not None:
        accepted = set(found.base_types).union(*(_ALSO_ACCEPTS.get(t, set()) for t in found.base_types))
        if op.type not in accepted:
            yield f"Use a {'/'.join(sorted(found.base_types))} operator instead of {op.base} for the condition key {key}."


def _is_bool(v: str) -> bool:
    return v.lower() in ("true", "false")


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _is_date(v: str) -> bool:
    if v.isdigit():
        return True  # epoch seconds
    try:
        dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_ip(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return True


def _is_base64(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _bad_values(op: Operator, values: tuple[str, ...], op_type: str, valid):
    if op.type == op_type:
        for v in values:
            if not _VARIABLE.search(v) and not valid(v):
                yield f"{v!r} is not a valid value for the {op.base} operator."


@check("TYPE_MISMATCH_BOOLEAN", W, "A Bool operator with a value other than true or false.", scope=C)
def type_mismatch_boolean(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    yield from _bad_values(op, values, "Bool", _is_bool)


@check("TYPE_MISMATCH_NUMBER", W, "A Numeric operator with a value that is not a number.", scope=C)
def type_mismatch_number(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    yield from _bad_values(op, values, "Numeric", _is_number)


@check("TYPE_MISMATCH_DATE", W, "A Date operator with a value that is not ISO 8601 or epoch seconds.", scope=C)
def type_mismatch_date(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    yield from _bad_values(op, values, "Date", _is_date)


@check("TYPE_MISMATCH_IP_RANGE", W, "An IP address operator with a value that is not an address or CIDR range.", scope=C)
def type_mismatch_ip_range(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    yield from _bad_values(op, values, "IPAddress", _is_ip)


@check("TYPE_MISMATCH_STRING", W, "A BinaryEquals operator with a value that is not base64.", scope=C)
def type_mismatch_string(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    yield from _bad_values(op, values, "Binary", _is_base64)


@check("WILDCARD_WITHOUT_LIKE_OPERATOR", W, "A * or ? in the value of an exact-match operator, where it is literal.", scope=C)
def wildcard_without_like(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if op.base in EXACT_OPERATORS and any(ch in _VARIABLE.sub("", v) for v in values for ch in "*?"):
        like = op.base.replace("Equals", "Like").replace("IgnoreCase", "")
        yield f"A value for {key} contains * or ?, which {op.base} compares literally. Use {like} for a wildcard."


# RFC 1918 and IPv6 unique-local ranges: addresses a VPC uses, never seen as aws:SourceIp.
_PRIVATE_NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


def _all_private(values: list[str]) -> bool:
    nets = [ipaddress.ip_network(v, strict=False) for v in values if _is_ip(v)]
    return (
        bool(nets)
        and len(nets) == len(values)
        and all(any(n.version == p.version and n.subnet_of(p) for p in _PRIVATE_NETS) for n in nets)
    )


@check("PRIVATE_IP_ADDRESS", E, "IpAddress on aws:SourceIp with only private ranges, which never match.", scope=C)
def private_ip_address(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if op.base == "IpAddress" and key.lower() == "aws:sourceip" and _all_private(values):
        yield "aws:SourceIp holds public addresses only; these private ranges never match. Use aws:VpcSourceIp."


@check("PRIVATE_NOT_IP_ADDRESS", E, "NotIpAddress on aws:SourceIp with only private ranges, which always match.", scope=C)
def private_not_ip_address(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if op.base == "NotIpAddress" and key.lower() == "aws:sourceip" and _all_private(values):
        yield "aws:SourceIp holds public addresses only; NotIpAddress on private ranges always matches."


@check("EMPTY_ARRAY_CONDITION", S, "A condition key with an empty list of values.", scope=C)
def empty_array_condition(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if not values and not op.qualifier and not op.if_exists:
        yield f"There are no values for the condition key {key}. Specify values."


@check("EMPTY_ARRAY_CONDITION_FORALLVALUES", S, "ForAllValues with no values: true only when the key is absent.", scope=C)
def empty_array_condition_forallvalues(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if not values and op.qualifier == "ForAllValues":
        yield f"ForAllValues with no values matches only when {key} is missing. Use Null to test that."


@check("EMPTY_ARRAY_CONDITION_FORANYVALUE", S, "ForAnyValue with no values, which never matches.", scope=C)
def empty_array_condition_foranyvalue(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if not values and op.qualifier == "ForAnyValue":
        yield f"ForAnyValue with no values for {key} never matches. Specify values."


@check("EMPTY_ARRAY_CONDITION_IFEXISTS", S, "IfExists with no values: true only when the key is absent.", scope=C)
def empty_array_condition_ifexists(cat: Catalogue, op: Operator, key: str, values: tuple[str, ...]):
    if not values and op.if_exists and not op.qualifier:
        yield f"IfExists with no values matches only when {key} is missing. Use Null to test that."


@check("FORALLVALUES_WITH_SINGLE_VALUED_KEY", SW, "ForAllValues on a single-valued key, true whenever the key is absent.", scope=K)
def forallvalues_single_valued(cat: Catalogue, op: Operator, key: str):
    found = _condition_key(cat, key)
    if found and op.qualifier == "ForAllValues" and not found.multivalued:
        yield f"ForAllValues with the single-valued key {key} can be overly permissive. Remove ForAllValues:."
