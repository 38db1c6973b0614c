"""Property tests: semantic laws of the evaluator over random policies and requests."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from slpc.verify.evaluate import ALLOW, EXPLICIT_DENY, Evaluator
from slpc.verify.request import Request

EXAMPLES = settings(max_examples=int(os.environ.get("SLPC_PROPERTY_EXAMPLES", "200")), deadline=None)
pytestmark = pytest.mark.property

ACCT, OTHER = "111122223333", "444455556666"
ROLES = [f"arn:aws:iam::{ACCT}:role/a", f"arn:aws:iam::{ACCT}:role/b", f"arn:aws:iam::{OTHER}:role/x"]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
RESOURCES = ["arn:aws:s3:::b", "arn:aws:s3:::b/k", "arn:aws:s3:::b/d/k"]

action_patterns = st.sampled_from(ACTIONS + ["s3:*", "s3:Get*", "*", "s3:?utObject"])
resource_patterns = st.sampled_from(RESOURCES + ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::c/*"])
principals = st.sampled_from(
    [Principal.any(), Principal.aws(ROLES[0]), Principal.aws(f"arn:aws:iam::{ACCT}:root"), Principal.aws(ROLES[2]),
     Principal.aws(f"arn:aws:iam::{OTHER}:root")]
)
conditions = st.sampled_from(
    [
        Condition("StringEquals", "aws:RequestedRegion", ("eu-west-1",)),
        Condition("StringNotEqualsIfExists", "aws:SourceVpce", ("vpce-1",)),
        Condition("NotIpAddressIfExists", "aws:SourceIp", ("203.0.113.0/24",)),
        Condition("Bool", "aws:SecureTransport", ("false",)),
        Condition("ArnNotEquals", "aws:PrincipalArn", (ROLES[0],)),
        Condition("DateGreaterThan", "aws:CurrentTime", ("2025-01-01T00:00:00Z",)),
        Condition("ForAnyValue:StringLike", "aws:TagKeys", ("team*",)),
    ]
)


@st.composite
def statements(draw, effect=None, with_principal=False):
    return Statement(
        effect=effect or draw(st.sampled_from(["Allow", "Deny"])),
        actions=tuple(draw(st.lists(action_patterns, min_size=1, max_size=2))),
        resources=tuple(draw(st.lists(resource_patterns, min_size=1, max_size=2))),
        conditions=tuple(draw(st.lists(conditions, max_size=2, unique_by=lambda c: (c.operator, c.key)))),
        principal=draw(principals) if with_principal else None,
    )


def docs(with_principal=False):
    return st.lists(statements(with_principal=with_principal), max_size=5).map(lambda s: PolicyDocument(tuple(s)))


@st.composite
def requests(draw):
    ctx = {}
    if draw(st.booleans()):
        ctx["aws:RequestedRegion"] = draw(st.sampled_from(["eu-west-1", "us-east-1"]))
    if draw(st.booleans()):
        ctx["aws:SourceVpce"] = draw(st.sampled_from(["vpce-1", "vpce-2"]))
    else:
        ctx["aws:SourceIp"] = draw(st.sampled_from(["203.0.113.5", "198.51.100.5"]))
    ctx["aws:SecureTransport"] = draw(st.booleans())
    ctx["aws:CurrentTime"] = draw(st.sampled_from(["2024-06-01T00:00:00Z", "2026-06-01T00:00:00Z"]))
    ctx["aws:TagKeys"] = draw(st.lists(st.sampled_from(["team", "env", "teamx"]), max_size=2))
    return Request(draw(st.sampled_from(ROLES)), draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)),
                   resource_account=ACCT, context=ctx)


def decide(identity: PolicyDocument, resource: PolicyDocument, request: Request) -> str:
    return Evaluator(identity=[identity], resource=resource).evaluate(request).effect


@EXAMPLES
@given(identity=docs(), resource=docs(True), request=requests(), data=st.data())
def test_a_matching_unconditional_deny_always_wins(identity, resource, request, data):
    blocker = Statement("Deny", actions=(request.action,), resources=(request.resource,), principal=Principal.any())
    stmts = list(resource.statements)
    stmts.insert(data.draw(st.integers(0, len(stmts))), blocker)
    assert decide(identity, PolicyDocument(tuple(stmts)), request) == EXPLICIT_DENY


@EXAMPLES
@given(identity=docs(), resource=docs(True), request=requests(), extra=statements("Allow", True), to_resource=st.booleans())
def test_adding_an_allow_never_revokes_an_allow(identity, resource, request, extra, to_resource):
    before = decide(identity, resource, request)
    if to_resource:
        resource = PolicyDocument(resource.statements + (extra,))
    else:
        identity = PolicyDocument(identity.statements + (Statement("Allow", extra.actions, extra.resources, extra.conditions),))
    after = decide(identity, resource, request)
    if before == ALLOW:
        assert after == ALLOW
    if before == EXPLICIT_DENY:
        assert after == EXPLICIT_DENY


@EXAMPLES
@given(identity=docs(), resource=docs(True), request=requests(), data=st.data())
def test_decisions_are_invariant_under_statement_reordering(identity, resource, request, data):
    before = decide(identity, resource, request)
    shuffled_identity = PolicyDocument(tuple(data.draw(st.permutations(identity.statements))))
    shuffled_resource = PolicyDocument(tuple(data.draw(st.permutations(resource.statements))))
    assert decide(shuffled_identity, shuffled_resource, request) == before


@EXAMPLES
@given(identity=docs(), resource=docs(True), request=requests())
def test_compiled_evaluator_agrees_with_fresh_compilation(identity, resource, request):
    """The per-(action, caller) caches never change an answer."""
    shared = Evaluator(identity=[identity], resource=resource)
    for other in ROLES:  # warm the caches with other callers first
        shared.evaluate(Request(other, request.action, request.resource, resource_account=ACCT, context={}))
    assert shared.evaluate(request) == Evaluator(identity=[identity], resource=resource).evaluate(request)


@EXAMPLES
@given(identity=docs(), request=requests())
def test_cross_account_never_allowed_without_resource_policy(identity, request):
    cross = Request(ROLES[2], request.action, request.resource, resource_account=ACCT, context={})
    assert Evaluator(identity=[identity]).evaluate(cross).effect != ALLOW
