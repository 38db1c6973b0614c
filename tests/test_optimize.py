"""The optimizer never changes a decision, never grows a policy, never adds a wildcard.

Generated documents are drawn from small pools so that many statements differ in
exactly one element (the merges happen), with negative forms, absent elements,
wildcard and multi-kind principals mixed in (the merges must not happen).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

import slpc.targets as targets
from slpc.app.pipeline import compile_text
from slpc.dsl import format_spec
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement, dumps, minify, to_json
from slpc.targets.optimize import optimize, optimize_statements
from slpc.verify.deployment import Deployment
from slpc.verify.evaluate import Evaluator
from strategies import PROPERTY, specs
from test_differential import STAR, questions
from test_evaluate_properties import ACCT, ROLES, conditions, requests

pytestmark = pytest.mark.property

ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:Get*", "s3:*")
RESOURCES = ("arn:aws:s3:::b", "arn:aws:s3:::b/k", "arn:aws:s3:::b/d/*", "arn:aws:s3:::b/*", "*")
PRINCIPALS = (None, Principal.any(), Principal.aws(ROLES[0]), Principal.aws(ROLES[1]), Principal.aws(ROLES[2]),
              Principal(entries=(("AWS", (ROLES[0],)), ("Service", ("s3.amazonaws.com",)))))


# the evaluator-property conditions, and set and presence tests, each with other values to swap in
CONDITIONS = st.one_of(conditions, st.sampled_from([
    Condition("ForAllValues:StringLike", "aws:TagKeys", ("team*",)),
    Condition("Null", "aws:SourceVpce", ("true",)),
]))
OTHER_VALUES = {
    "aws:RequestedRegion": ("eu-west-1", "us-east-1"), "aws:SourceVpce": ("vpce-1", "vpce-2"),
    "aws:SourceIp": ("203.0.113.0/24", "198.51.100.0/24"), "aws:SecureTransport": ("true", "false"),
    "aws:PrincipalArn": tuple(ROLES), "aws:CurrentTime": ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    "aws:TagKeys": ("team*", "env"),
}


@st.composite
def statements(draw, resource_policy: bool):
    negative_action, negative_resource = draw(st.booleans()), draw(st.integers(0, 3)) == 0
    actions = tuple(draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2)))
    resources = tuple(draw(st.lists(st.sampled_from(RESOURCES), max_size=2)))
    not_principal = resource_policy and draw(st.integers(0, 5)) == 0
    principal = draw(st.sampled_from(PRINCIPALS[1:])) if resource_policy else None
    return Statement(
        effect=draw(st.sampled_from(("Allow", "Deny"))),
        actions=() if negative_action else actions, not_actions=actions if negative_action else (),
        resources=() if negative_resource else resources, not_resources=resources if negative_resource else (),
        conditions=tuple(draw(st.lists(CONDITIONS, max_size=2, unique_by=lambda c: (c.operator, c.key)))),
        principal=None if not_principal else principal,
        not_principal=principal if not_principal and principal and not principal.wildcard else None,
        sid=draw(st.sampled_from((None, "A", "B", "C"))),
    )


def docs(resource_policy: bool = False):
    """Statements plus near-copies of them that differ in one element."""
    @st.composite
    def build(draw):
        base = draw(st.lists(statements(resource_policy), min_size=1, max_size=4))
        out = list(base)
        for _ in range(draw(st.integers(0, 5))):
            s = draw(st.sampled_from(base))
            element = draw(st.sampled_from(("actions", "resources", "principal", "conditions", "values")))
            if element == "actions" and s.actions:
                s = replace(s, actions=(draw(st.sampled_from(ACTIONS)),))
            elif element == "resources":
                s = replace(s, resources=tuple(draw(st.lists(st.sampled_from(RESOURCES), max_size=2))))
            elif element == "principal" and resource_policy and s.principal is not None:
                s = replace(s, principal=draw(st.sampled_from(PRINCIPALS[1:])))
            elif element == "conditions":
                s = replace(s, conditions=s.conditions + (draw(CONDITIONS),))
            elif element == "values" and s.conditions:
                i = draw(st.integers(0, len(s.conditions) - 1))
                c = s.conditions[i]
                pool = ("true", "false") if c.operator == "Null" else OTHER_VALUES[c.key]
                c = Condition(c.operator, c.key, tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))))
                s = replace(s, conditions=s.conditions[:i] + (c,) + s.conditions[i + 1:])
            out.insert(draw(st.integers(0, len(out))), s)
        return PolicyDocument(tuple(out))
    return build()


def _decide(identity: PolicyDocument, resource: PolicyDocument, request) -> str:
    return Evaluator(identity=[identity], resource=resource).evaluate(request).effect


@PROPERTY
@given(identity=docs(), resource=docs(resource_policy=True), reqs=st.lists(requests(), min_size=4, max_size=12))
def test_optimizing_never_changes_a_decision(identity, resource, reqs):
    opt_identity, opt_resource = optimize(identity), optimize(resource)
    for request in reqs:
        assert _decide(opt_identity, opt_resource, request) == _decide(identity, resource, request), (
            f"\nbefore: {minify(identity)}\n{minify(resource)}\nafter: {minify(opt_identity)}\n{minify(opt_resource)}")


@PROPERTY
@given(doc=docs(resource_policy=True))
def test_optimizing_is_idempotent(doc):
    once = optimize(doc)
    again = optimize_statements(once.statements)  # the work itself: `optimize` returns `once` as marked
    assert again == once.statements
    assert [s.sid for s in again] == [s.sid for s in once.statements]


def test_an_optimized_document_is_returned_as_it_is_and_a_changed_copy_is_optimized_again():
    a = Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/a/*",), sid="A")
    b = replace(a, resources=("arn:aws:s3:::b/b/*",), sid="B")
    once = optimize(PolicyDocument((a,)))
    assert optimize(once) is once
    changed = replace(once, statements=once.statements + (b,))
    assert optimize(changed).statements == (replace(a, resources=("arn:aws:s3:::b/a/*", "arn:aws:s3:::b/b/*")),)


def _values(doc: PolicyDocument) -> set[str]:
    return set(re.findall(r'"((?:[^"\\]|\\.)*)"', minify(doc)))


@PROPERTY
@given(doc=docs(resource_policy=True))
def test_optimizing_adds_no_value_and_never_grows(doc):
    after = optimize(doc)
    assert _values(after) <= _values(doc)  # so no wildcard that was not there
    assert len(minify(after)) <= len(minify(doc))
    assert len(after.statements) <= len(doc.statements)


@PROPERTY
@given(doc=docs(resource_policy=True))
def test_merged_statements_keep_the_first_members_sid(doc):
    sids = [s.sid for s in doc.statements]
    for s in optimize(doc).statements:
        assert s.sid in sids


def test_statements_differing_in_one_element_merge_and_others_do_not():
    vpce = Condition("StringEquals", "aws:SourceVpce", ("vpce-1",))
    other = Condition("StringEquals", "aws:SourceVpce", ("vpce-2",))
    a = Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/x/*",), conditions=(vpce,), sid="A")
    b = Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/y/*",), conditions=(vpce,), sid="B")
    c = Statement("Allow", actions=("s3:PutObject",), resources=("arn:aws:s3:::b/z/*",), conditions=(vpce,), sid="C")
    d = Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/w/*",), conditions=(other,), sid="D")
    e = Statement("Allow", not_actions=("s3:GetObject",), resources=("arn:aws:s3:::b/y/*",), conditions=(vpce,), sid="E")
    out = optimize(PolicyDocument((a, b, c, d, e))).statements
    assert [s.sid for s in out] == ["A", "C", "D", "E"]
    assert out[0].resources == ("arn:aws:s3:::b/x/*", "arn:aws:s3:::b/y/*")


def test_denies_for_grantees_merge_only_where_their_limits_are_the_same():
    def deny(role, prefix):
        return Statement("Deny", actions=("s3:GetObject",), not_resources=(f"arn:aws:s3:::b/{prefix}/*",),
                         principal=Principal.any(), sid=role.rsplit("/", 1)[1],
                         conditions=(Condition("ArnEquals", "aws:PrincipalArn", (role,)),))
    doc = PolicyDocument((deny(ROLES[0], "p"), deny(ROLES[1], "q")))
    assert optimize(doc) == doc
    (merged,) = optimize(PolicyDocument((deny(ROLES[0], "p"), deny(ROLES[1], "p")))).statements
    assert merged.sid == "a" and merged.conditions == (Condition("ArnEquals", "aws:PrincipalArn", tuple(ROLES[:2])),)


def test_negated_and_for_all_values_conditions_never_merge():
    def deny(operator, key, value, sid):
        return Statement("Deny", actions=("s3:GetObject",), resources=("*",), principal=Principal.any(), sid=sid,
                         conditions=(Condition(operator, key, (value,)),))
    for operator, key, a, b in (("StringNotEquals", "aws:SourceVpce", "vpce-1", "vpce-2"),
                                ("ArnNotLike", "aws:PrincipalArn", ROLES[0], ROLES[1]),
                                ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "198.51.100.0/24"),
                                ("ForAllValues:StringLike", "aws:TagKeys", "team*", "env")):
        doc = PolicyDocument((deny(operator, key, a, "A"), deny(operator, key, b, "B")))
        assert optimize(doc) == doc, operator


def test_the_wildcard_principal_is_never_merged_with_a_list():
    def deny(principal, sid):
        return Statement("Deny", actions=("s3:GetObject",), resources=("*",), principal=principal, sid=sid)
    doc = PolicyDocument((deny(Principal.any(), "All"), deny(Principal.aws(ROLES[0]), "One")))
    assert optimize(doc) == doc


@PROPERTY
@given(specs(), st.data())
def test_compiled_artifacts_mean_the_same_unoptimized(spec, data):
    """For generated specs: the artifacts as built and as optimized agree on generated requests."""
    text = format_spec(spec)
    with mock.patch.object(targets, "optimize", lambda doc: doc):
        raw = compile_text(text, "gen.slp", now=None)
    optimized = compile_text(text, "gen.slp", now=None)
    if not raw.ok or not optimized.ok:  # over a size limit: nothing to compare
        return
    before, after = Deployment.from_artifacts(raw.artifacts), Deployment.from_artifacts(optimized.artifacts)
    for i in range(10):
        q = data.draw(questions(optimized.model), label=f"request {i}")
        star = (STAR,) if q.star else ()
        assert (after.decide(q.principal, q.action, q.resource, q.context, extra_identity=star).allowed
                == before.decide(q.principal, q.action, q.resource, q.context, extra_identity=star).allowed), text


def test_example_policies_shrink():
    from pathlib import Path
    text = (Path(__file__).parent.parent / "examples" / "sovereign_llm.slp").read_text()
    with mock.patch.object(targets, "optimize", lambda doc: doc):
        raw = {a.path: a for a in compile_text(text).artifacts}
    sizes = [(len(json.dumps(json.loads(art.text))), len(json.dumps(json.loads(raw[art.path].text))))
             for art in compile_text(text).artifacts if art.document is not None]
    assert all(after <= before for after, before in sizes)
    assert sum(after for after, _ in sizes) < sum(before for _, before in sizes)


@PROPERTY
@given(doc=docs(resource_policy=True), texts=st.lists(st.text(), max_size=3))
def test_the_artifact_layout_is_json_dumps_indent_two(doc, texts):
    """document.dumps builds the indented text itself (fast); it must be json.dumps's text."""
    odd = Statement("Allow", actions=tuple(texts) or ("s3:GetObject",), resources=("*",), sid="é\u2028\"\\",
                    conditions=(Condition("StringEquals", "aws:x", tuple(texts)),))
    for d in (doc, PolicyDocument(doc.statements + (odd,), id="ü")):
        assert dumps(d) == json.dumps(to_json(d), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
