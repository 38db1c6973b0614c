"""Condition operators: one test per family and rule, then property tests."""

from __future__ import annotations

import base64
import ipaddress
import os
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.policy.document import Condition
from slpc.verify.conditions import OPERATORS, compile_condition, parse_operator, parse_template

EXAMPLES = settings(max_examples=int(os.environ.get("SLPC_PROPERTY_EXAMPLES", "200")), deadline=None)
V = "2012-10-17"


def check(operator: str, key: str, values: list[str] | str, ctx: dict, version: str | None = V) -> bool:
    pred = compile_condition(Condition(operator, key, tuple([values] if isinstance(values, str) else values)), version)
    assert pred is not None, f"{operator} should be known"
    norm = {k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in ctx.items()}
    return pred(norm)


# --------------------------------------------------------------------------- #
# String


def test_string_equals_is_exact_and_ors_values():
    assert check("StringEquals", "aws:RequestedRegion", ["eu-west-1", "eu-central-1"], {"aws:RequestedRegion": "eu-central-1"})
    assert not check("StringEquals", "aws:RequestedRegion", "eu-west-1", {"aws:RequestedRegion": "EU-WEST-1"})
    assert not check("StringEquals", "aws:RequestedRegion", "eu-*", {"aws:RequestedRegion": "eu-west-1"})


def test_string_not_equals_is_the_complement_and_true_when_missing():
    assert not check("StringNotEquals", "k", ["a", "b"], {"k": "b"})
    assert check("StringNotEquals", "k", ["a", "b"], {"k": "c"})
    assert check("StringNotEquals", "k", "a", {})


def test_string_ignore_case():
    assert check("StringEqualsIgnoreCase", "k", "Hello", {"k": "hELLO"})
    assert not check("StringEqualsIgnoreCase", "k", "Hello", {"k": "hell"})
    assert not check("StringNotEqualsIgnoreCase", "k", "Hello", {"k": "HELLO"})
    assert check("StringNotEqualsIgnoreCase", "k", "Hello", {"k": "bye"})


def test_string_like_wildcards_case_sensitive():
    assert check("StringLike", "s3:prefix", "models/*", {"s3:prefix": "models/a/b"})
    assert check("StringLike", "s3:prefix", "m?dels/", {"s3:prefix": "models/"})
    assert not check("StringLike", "s3:prefix", "m?dels/", {"s3:prefix": "mdels/"})
    assert not check("StringLike", "s3:prefix", "models/*", {"s3:prefix": "Models/a"})
    assert check("StringNotLike", "s3:prefix", ["models/*", "eval/*"], {"s3:prefix": "secret/x"})
    assert not check("StringNotLike", "s3:prefix", ["models/*", "eval/*"], {"s3:prefix": "eval/x"})


def test_condition_key_names_are_case_insensitive():
    assert check("StringEquals", "AWS:SourceVPCE", "vpce-1", {"aws:sourcevpce": "vpce-1"})


def test_multi_valued_key_with_plain_operator_matches_any_value():
    assert check("StringEquals", "k", "b", {"k": ["a", "b"]})
    assert not check("StringNotEquals", "k", "b", {"k": ["a", "b"]})


# --------------------------------------------------------------------------- #
# Numeric and Date


@pytest.mark.parametrize(
    "op, policy, ctx, expected",
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", "10", "11", False),
        ("NumericNotEquals", "10", "11", True),
        ("NumericNotEquals", "10", "10", False),
        ("NumericLessThan", "1.2", "1.1", True),
        ("NumericLessThan", "1.2", "1.2", False),
        ("NumericLessThanEquals", "1.2", "1.2", True),
        ("NumericGreaterThan", "30", "31", True),
        ("NumericGreaterThan", "30", "30", False),
        ("NumericGreaterThanEquals", "30", "30", True),
        ("NumericGreaterThanEquals", "30", "29", False),
        ("NumericEquals", "10", "ten", False),
    ],
)
def test_numeric(op, policy, ctx, expected):
    assert check(op, "s3:TlsVersion", policy, {"s3:TlsVersion": ctx}) is expected


@pytest.mark.parametrize(
    "op, policy, ctx, expected",
    [
        ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", True),
        ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", True),
        ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
        ("DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", True),
        ("DateLessThan", "2024-01-01", "2024-01-01T00:00:00Z", False),
        ("DateLessThanEquals", "2024-01-01", "2024-01-01T00:00:00Z", True),
        ("DateGreaterThan", "1704067200", "2024-01-01T00:00:01Z", True),
        ("DateGreaterThan", "1704067200", "2024-01-01T00:00:00Z", False),
        ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "1704067200", True),
        ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "not a date", False),
    ],
)
def test_date(op, policy, ctx, expected):
    assert check(op, "aws:CurrentTime", policy, {"aws:CurrentTime": ctx}) is expected


# --------------------------------------------------------------------------- #
# Bool, Binary, IP, ARN, Null


def test_bool():
    assert check("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "false"})
    assert check("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "True"})
    assert not check("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "true"})
    assert not check("Bool", "aws:SecureTransport", "false", {})
    assert check("BoolIfExists", "aws:PrincipalIsAWSService", "false", {})


def test_binary_equals_compares_decoded_bytes():
    data = base64.b64encode(b"\x00\x01secret").decode()
    assert check("BinaryEquals", "k", data, {"k": data})
    assert not check("BinaryEquals", "k", data, {"k": base64.b64encode(b"other").decode()})


def test_ip_address_v4_v6_and_plain_addresses():
    cidrs = ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"]
    assert check("IpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "203.0.113.200"})
    assert check("IpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "2001:db8:1::5"})
    assert check("IpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "192.0.2.7"})
    assert not check("IpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "192.0.2.8"})
    assert not check("IpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "not-an-ip"})
    assert not check("NotIpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "203.0.113.1"})
    assert check("NotIpAddress", "aws:SourceIp", cidrs, {"aws:SourceIp": "198.51.100.1"})
    assert check("NotIpAddress", "aws:SourceIp", cidrs, {})


def test_arn_operators_match_component_wise():
    role = "arn:aws:iam::111122223333:role/team-a"
    assert check("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/team-*", {"aws:PrincipalArn": role})
    assert check("ArnEquals", "aws:PrincipalArn", role, {"aws:PrincipalArn": role})
    assert not check("ArnEquals", "aws:PrincipalArn", role.upper(), {"aws:PrincipalArn": role})
    # A component wildcard cannot swallow a colon, unlike StringLike.
    odd = "arn:aws:iam::1:2:role/r"
    assert not check("ArnLike", "k", "arn:aws:iam::1*:role/r", {"k": odd})
    assert check("StringLike", "k", "arn:aws:iam::1*:role/r", {"k": odd})
    # The resource part may contain colons.
    assert check("ArnLike", "k", "arn:aws:logs:*:*:log-group:*", {"k": "arn:aws:logs:eu-west-1:1:log-group:g:*"})
    assert not check("ArnLike", "k", "arn:aws:iam::*:role/x", {"k": "not-an-arn"})
    assert not check("ArnNotEquals", "k", [role, "arn:aws:iam::1:role/b"], {"k": role})
    assert check("ArnNotLike", "k", "arn:aws:iam::*:role/admin", {"k": role})
    assert check("ArnNotEquals", "k", role, {})


def test_null_tests_presence():
    assert check("Null", "k", "true", {})
    assert not check("Null", "k", "true", {"k": "x"})
    assert check("Null", "k", "false", {"k": "x"})
    assert not check("Null", "k", "false", {})
    assert check("Null", "k", "true", {"k": []})


# --------------------------------------------------------------------------- #
# Missing keys, IfExists, set operators


@pytest.mark.parametrize(
    "op, value",
    [
        ("StringEquals", "a"), ("StringEqualsIgnoreCase", "a"), ("StringLike", "a*"), ("NumericEquals", "1"),
        ("NumericLessThan", "1"), ("DateEquals", "2024-01-01"), ("Bool", "true"),
        ("BinaryEquals", "AAAA"), ("IpAddress", "10.0.0.0/8"), ("ArnEquals", "arn:aws:s3:::b"), ("ArnLike", "arn:*:*:*:*:*"),
    ],
)
def test_missing_key_plain_false_ifexists_true(op, value):
    assert not check(op, "absent", value, {})
    assert check(op + "IfExists", "absent", value, {})


@pytest.mark.parametrize(
    "op, value",
    [
        ("StringNotEquals", "a"), ("StringNotEqualsIgnoreCase", "a"), ("StringNotLike", "a*"),
        ("NumericNotEquals", "1"), ("DateNotEquals", "2024-01-01"), ("NotIpAddress", "10.0.0.0/8"),
        ("ArnNotEquals", "arn:aws:s3:::b"), ("ArnNotLike", "arn:*:*:*:*:*"),
    ],
)
def test_missing_key_negated_true(op, value):
    assert check(op, "absent", value, {})
    assert check(op + "IfExists", "absent", value, {})


def test_if_exists_equals_plain_when_present():
    assert check("StringEqualsIfExists", "k", "a", {"k": "a"})
    assert not check("StringEqualsIfExists", "k", "a", {"k": "b"})
    assert not check("StringNotEqualsIfExists", "aws:SourceVpce", "vpce-1", {"aws:SourceVpce": "vpce-1"})


def test_for_all_values():
    allowed = ["s3", "kms"]
    assert check("ForAllValues:StringEquals", "aws:CalledVia", allowed, {"aws:CalledVia": ["s3", "kms"]})
    assert not check("ForAllValues:StringEquals", "aws:CalledVia", allowed, {"aws:CalledVia": ["s3", "ec2"]})
    assert check("ForAllValues:StringEquals", "aws:CalledVia", allowed, {})
    assert check("ForAllValues:StringEquals", "aws:CalledVia", allowed, {"aws:CalledVia": []})
    assert check("ForAllValues:StringNotLike", "aws:TagKeys", ["secret*"], {"aws:TagKeys": ["a", "b"]})
    assert not check("ForAllValues:StringNotLike", "aws:TagKeys", ["secret*"], {"aws:TagKeys": ["a", "secret1"]})


def test_for_any_value():
    assert check("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": ["env", "owner"]})
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": ["env"]})
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], {})
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": []})
    assert check("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["owner"], {})
    assert check("ForAnyValue:StringNotEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": ["owner", "env"]})
    assert not check("ForAnyValue:StringNotEquals", "aws:TagKeys", ["owner"], {"aws:TagKeys": ["owner"]})


def test_unknown_and_malformed_operators_are_not_compiled():
    for op in ("StringEqualz", "NullIfExists", "ForAllValues:Null", "ForSomeValues:StringEquals", "stringequals"):
        assert parse_operator(op) is None
        assert compile_condition(Condition(op, "k", ("v",)), V) is None
    assert "ArnNotLike" in OPERATORS and "Null" in OPERATORS


# --------------------------------------------------------------------------- #
# Policy variables


def test_policy_variable_in_condition_value():
    ctx = {"aws:username": "alice", "s3:prefix": "home/alice/x"}
    assert check("StringLike", "s3:prefix", "home/${aws:username}/*", ctx)
    assert not check("StringLike", "s3:prefix", "home/${aws:username}/*", {**ctx, "aws:username": "bob"})


def test_policy_variable_needs_2012_version():
    ctx = {"aws:username": "alice", "k": "alice"}
    assert check("StringEquals", "k", "${aws:username}", ctx)
    assert not check("StringEquals", "k", "${aws:username}", ctx, version="2008-10-17")
    assert check("StringEquals", "k", "${aws:username}", {"k": "${aws:username}"}, version=None)


def test_special_variables_are_literal_characters():
    assert check("StringLike", "k", "a${*}b", {"k": "a*b"})
    assert not check("StringLike", "k", "a${*}b", {"k": "axxb"})
    assert check("StringEquals", "k", "${?}${$}", {"k": "?$"})


def test_policy_variable_default_and_unresolved():
    assert check("StringEquals", "k", "team-${aws:PrincipalTag/team, 'none'}", {"k": "team-none"})
    assert check("StringEquals", "k", "team-${aws:PrincipalTag/team, 'none'}", {"k": "team-x", "aws:PrincipalTag/team": "x"})
    # No value and no default: that policy value matches nothing.
    assert not check("StringEquals", "k", "team-${aws:PrincipalTag/team}", {"k": "team-"})
    assert check("StringNotEquals", "k", "team-${aws:PrincipalTag/team}", {"k": "team-"})


def test_parse_template_only_when_variables_present():
    assert parse_template("plain", V) is None
    assert parse_template("${aws:username}", "2008-10-17") is None
    assert parse_template("${aws:username}", V) is not None


# --------------------------------------------------------------------------- #
# Properties


def glob_reference(pattern: str, text: str) -> bool:
    """Straightforward dynamic-programming glob matcher (the reference)."""
    n, m = len(pattern), len(text)
    dp = [[False] * (m + 1) for _ in range(n + 1)]
    dp[0][0] = True
    for i in range(1, n + 1):
        dp[i][0] = dp[i - 1][0] and pattern[i - 1] == "*"
        for j in range(1, m + 1):
            p = pattern[i - 1]
            if p == "*":
                dp[i][j] = dp[i - 1][j] or dp[i][j - 1]
            else:
                dp[i][j] = dp[i - 1][j - 1] and (p == "?" or p == text[j - 1])
    return dp[n][m]


ALPHABET = st.text(alphabet="ab/:.*?", max_size=8)
TEXT = st.text(alphabet="ab/:.", max_size=8)


@pytest.mark.property
@EXAMPLES
@given(pattern=ALPHABET, text=TEXT)
def test_string_like_agrees_with_reference(pattern, text):
    assert check("StringLike", "k", pattern, {"k": text}) is glob_reference(pattern, text)


def arn_reference(pattern: str, text: str) -> bool:
    pp, tp = pattern.split(":", 5), text.split(":", 5)
    if len(pp) < 6:
        return glob_reference(pattern, text)
    return len(tp) == 6 and all(glob_reference(p, t) for p, t in zip(pp, tp))


ARN_PART = st.text(alphabet="ab*?", max_size=3)


@pytest.mark.property
@EXAMPLES
@given(parts=st.lists(ARN_PART, min_size=5, max_size=5), tail=st.text(alphabet="ab/:*", max_size=5),
       text=st.text(alphabet="ab:/", max_size=14))
def test_arn_like_agrees_with_component_reference(parts, tail, text):
    pattern = ":".join(["arn"] + parts[1:] + [tail])
    value = "arn:" + text
    assert check("ArnLike", "k", pattern, {"k": value}) is arn_reference(pattern, value)


@st.composite
def networks(draw):
    if draw(st.booleans()):
        addr = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
        prefix = draw(st.integers(0, 32))
    else:
        addr = ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))
        prefix = draw(st.integers(0, 128))
    return ipaddress.ip_network(f"{addr}/{prefix}", strict=False)


@st.composite
def addresses(draw):
    if draw(st.booleans()):
        return ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    return ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))


@pytest.mark.property
@EXAMPLES
@given(nets=st.lists(networks(), min_size=1, max_size=3), addr=addresses(), near=st.booleans())
def test_ip_address_agrees_with_ipaddress(nets, addr, near):
    if near:  # often pick an address inside the first network
        net = nets[0]
        addr = net.network_address + (int(addr) % net.num_addresses)
    expected = any(addr.version == n.version and addr in n for n in nets)
    assert check("IpAddress", "aws:SourceIp", [str(n) for n in nets], {"aws:SourceIp": str(addr)}) is expected
    assert check("NotIpAddress", "aws:SourceIp", [str(n) for n in nets], {"aws:SourceIp": str(addr)}) is (not expected)


FAMILIES = st.sampled_from(
    [
        ("StringEquals", "StringNotEquals", st.sampled_from(["a", "b", "c"])),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", st.sampled_from(["a", "A", "b"])),
        ("StringLike", "StringNotLike", st.sampled_from(["a*", "?", "b", "*"])),
        ("NumericEquals", "NumericNotEquals", st.integers(0, 3).map(str)),
        ("DateEquals", "DateNotEquals", st.sampled_from(["2024-01-01T00:00:00Z", "1704067200", "2025-01-01"])),
        ("IpAddress", "NotIpAddress", st.sampled_from(["10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "2001:db8::1"])),
        ("ArnLike", "ArnNotLike", st.sampled_from(["arn:aws:s3:::a", "arn:aws:s3:::*", "arn:aws:iam::1:role/*"])),
        ("ArnEquals", "ArnNotEquals", st.sampled_from(["arn:aws:s3:::a", "arn:aws:iam::1:role/r"])),
    ]
)


@pytest.mark.property
@EXAMPLES
@given(data=st.data(), family=FAMILIES)
def test_if_exists_and_negation_laws(data, family):
    positive, negated, values = family
    policy = data.draw(st.lists(values, min_size=1, max_size=3))
    present = {"k": data.draw(st.lists(values, min_size=1, max_size=2))}
    plain = check(positive, "k", policy, present)
    assert check(positive + "IfExists", "k", policy, present) is plain
    assert check(negated, "k", policy, present) is (not plain)
    assert check(negated + "IfExists", "k", policy, present) is (not plain)
    assert check(positive + "IfExists", "k", policy, {}) is True
    assert check(negated + "IfExists", "k", policy, {}) is True


@pytest.mark.property
@EXAMPLES
@given(policy=st.lists(st.sampled_from("abc"), min_size=1, max_size=3), ctx=st.lists(st.sampled_from("abcd"), max_size=4))
def test_set_operators_agree_with_set_semantics(policy, ctx):
    assert check("ForAllValues:StringEquals", "k", policy, {"k": ctx}) is set(ctx).issubset(policy)
    assert check("ForAnyValue:StringEquals", "k", policy, {"k": ctx}) is bool(set(ctx) & set(policy))


@pytest.mark.property
@EXAMPLES
@given(a=st.integers(0, 2**31), b=st.integers(0, 2**31))
def test_date_epoch_and_iso_agree(a, b):
    iso = datetime.fromtimestamp(b, timezone.utc).isoformat()
    assert check("DateLessThan", "t", str(a), {"t": iso}) is (b < a)
    assert check("DateLessThan", "t", datetime.fromtimestamp(a, timezone.utc).isoformat(), {"t": str(b)}) is (b < a)
