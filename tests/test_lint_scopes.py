"""Entry-scoped checks (``scope=`` in the lint registry) are judged once per distinct
entry and the verdict reused: that must give what judging every entry afresh gives.

Policies are generated loosely shaped (numbers, booleans, nulls and nested values where
strings belong; unknown operators, keys and services), so that entries whose keys
could collide (``true`` and ``"true"``, ``1`` and ``1.0``) meet in one run.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slpc.verify.catalogue import Catalogue
from slpc.verify.lint import POLICY_TYPES, REGISTRY, RESOURCE_TYPES, ROLE_TRUST, lint
from slpc.verify.lint.registry import (
    ACTION, CONDITION, ENTRIES, POLICY, RESOURCE, Context, Verdicts, check, forget, items, judge, parse_operator, run_check, texts,
)
from slpc.verify.lint.trust import claims_catalogue
from strategies import PROPERTY

ENTRY_CHECKS = [c for c in REGISTRY.values() if c.scope != POLICY]

TYPES = [(t, None) for t in POLICY_TYPES if t != "resource"] + [("resource", r) for r in RESOURCE_TYPES]
ODD = st.sampled_from([None, True, False, 0, 1, 1.0, 2.5, "", {}, [], {"a": 1}, ["x"]])
ACTIONS = st.sampled_from(["s3:GetObject", "s3:Get*", "s3:getobject", "s3:GetObjekt", "s4:GetObject", "s*:Get", "*",
                           "iam:PassRole", "iam:*", "kms:Decrypt", "s3:", "GetObject", "ec2:?escribe*"])
RESOURCES = st.sampled_from(["*", "arn:aws:s3:::m/*", "arn:aws:s3:::m", "arn:aws:S3:::m/*", "arn:aws:s3", "models/*",
                             "arn:aws:kms:eu-west-1:111122223333:key/1", "arn:aws:kms:eu-west-1:111122223333:keys/1",
                             "arn:aws:iam::*:role/x", "arn:aws:s?:::m", "execute-api:/a/GET/x", "arn:aws:foo:::x"])
OPERATORS = st.sampled_from(["StringEquals", "StringLike", "StringEqualsIfExists", "ForAllValues:StringEquals",
                             "ForAnyValue:StringLike", "Null", "NullIfExists", "ForAnyValue:Null", "Bool", "BoolIfExists",
                             "IpAddress", "NotIpAddress", "NumericLessThan", "DateLessThan", "BinaryEquals", "ArnLike",
                             "ArnEquals", "StringEqual", "Foo:StringEquals"])
KEYS = st.sampled_from(["aws:SourceVpce", "aws:SourceIp", "aws:TagKeys", "aws:SecureTransport", "aws:CurrentTime",
                        "s3:prefix", "s3:prefixes", "s4:x", "SourceIp", "aws:SourceVpcId", "aws:PrincipalArn",
                        "iam:PassedToService", "s3:TlsVersion", "aws:UserAgent", "aws:ResourceTag/team",
                        "token.actions.githubusercontent.com:sub", "oidc.eks.eu-west-1.amazonaws.com/id/AB:subject",
                        "cognito-identity.amazonaws.com:amr"])
VALUES = st.sampled_from(["vpce-1", "vpce-*", "10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24", "203.0.113", "true",
                          "TRUE", "yes", "1", "1.0", "2027-01-01T00:00:00Z", "tomorrow", "aGVsbG8=", "not base64!",
                          "${aws:username}*", "arn:aws:iam::1:role/*"])


def one_or_many(values):
    return st.one_of(values, ODD, st.lists(st.one_of(values, values, ODD), max_size=4))


condition_blocks = st.one_of(
    ODD,
    st.dictionaries(OPERATORS, st.one_of(ODD, st.dictionaries(KEYS, one_or_many(VALUES), max_size=3)), max_size=3),
)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.sampled_from(["A", "B", "", 5]),
        "Effect": st.sampled_from(["Allow", "Deny", "allow"]),
        "Action": one_or_many(ACTIONS),
        "NotAction": one_or_many(ACTIONS),
        "Resource": one_or_many(RESOURCES),
        "NotResource": one_or_many(RESOURCES),
        "Condition": condition_blocks,
    },
)
policies = st.tuples(
    st.one_of(st.lists(statements, max_size=4), statements),
    st.sampled_from(TYPES),
)

# One catalogue for the whole run, so verdicts from earlier examples are reused.
CATALOGUE = Catalogue()
SEEN: dict = {}  # (scope, entry key) -> the entry first seen with that key


class Afresh(Verdicts):
    """Verdicts that judge every entry anew (`get` finds nothing) and check that a key
    names one entry over the whole run."""

    def get(self, key):
        return None

    def judge(self, catalogue, key, entry):
        assert SEEN.setdefault((self.scope, key), entry) == entry
        return judge(catalogue, self.scope, entry)


@PROPERTY
@given(policies)
def test_reused_verdicts_equal_judging_each_entry_afresh(policy):
    statements, (policy_type, resource_type) = policy
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    reading = claims_catalogue(CATALOGUE) if resource_type == ROLE_TRUST else CATALOGUE  # as lint reads it
    ctx = Context(text, json.loads(text), policy_type, resource_type, reading)
    for chk in ENTRY_CHECKS:
        afresh = [(path, message) for path, said in ENTRIES[chk.scope](ctx, {scope: Afresh(scope) for scope in ENTRIES})
                  for id, message in said if id == chk.id]
        assert [(f.path, f.message) for f in run_check(chk, ctx)] == afresh
        plainly = [(path, message) for path, entry in each_entry(ctx, chk.scope) for message in chk.judge(reading, *entry)]
        assert afresh == plainly


def each_entry(ctx, scope):
    """(path, entry) for each entry of the scope, walked plainly (the registry's walk
    builds paths only for entries with findings)."""
    for s in ctx.statements:
        if scope in (ACTION, RESOURCE):
            for element in ("Action", "NotAction") if scope == ACTION else ("Resource", "NotResource"):
                for path, value in items(s, element):
                    yield path, (value,)
        elif isinstance(s.get("Condition"), dict):
            for op_text, keys in s.get("Condition").items():
                for key, values in keys.items() if isinstance(keys, dict) and parse_operator(op_text) else ():
                    entry = (parse_operator(op_text), key, texts(values))
                    yield f"{s.path}.Condition.{op_text}.{key}", entry if scope == CONDITION else entry[:2]


@PROPERTY
@given(policies)
def test_a_lint_with_reused_verdicts_equals_one_without(policy):
    statements, (policy_type, resource_type) = policy
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    warm = lint(text, policy_type, resource_type, catalogue=CATALOGUE)
    forget(CATALOGUE)
    assert lint(text, policy_type, resource_type, catalogue=CATALOGUE) == warm


def test_entry_scopes_are_marked_and_judged():
    assert {c.scope for c in ENTRY_CHECKS} == set(ENTRIES)
    assert all(c.judge is not None for c in ENTRY_CHECKS)
    assert all(c.judge is None for c in REGISTRY.values() if c.scope == POLICY)


def test_an_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="unknown scope"):
        check("NOT_A_CHECK", ENTRY_CHECKS[0].finding_type, "x", scope="principal")(lambda cat, value: ())
    assert "NOT_A_CHECK" not in REGISTRY


def test_an_unknown_policy_type_is_refused():
    with pytest.raises(ValueError, match="unknown policy types"):
        check("NOT_A_CHECK", ENTRY_CHECKS[0].finding_type, "x", policy_types={"identity", "iam"})(lambda ctx: ())
    assert "NOT_A_CHECK" not in REGISTRY
