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


# --------------------------------------------------------------------------- #
# Obtaining a role: the trust policy must allow, web identities, iam:PassRole

TARGET = f"arn:aws:iam::{ACCT}:role/target"
FOREIGN_ROLE = f"arn:aws:iam::{OTHER}:role/target"
SAME_CALLERS = [ROLES[0], ROLES[1], f"arn:aws:sts::{ACCT}:assumed-role/a/s1"]
ISSUER = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/{ISSUER}"
SERVICES = ["sagemaker.amazonaws.com", "pods.eks.amazonaws.com", "ec2.amazonaws.com"]
STS_ACTIONS = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]

ACCOUNT_PRINCIPALS = [Principal.aws(f"arn:aws:iam::{ACCT}:root"), Principal.aws(ACCT),
                      Principal.aws(f"arn:aws:iam::{OTHER}:root")]
AWS_PRINCIPALS = ACCOUNT_PRINCIPALS + [Principal.aws(r) for r in ROLES] + [Principal.aws(SAME_CALLERS[2])]
OTHER_PRINCIPALS = [Principal.any(), Principal(entries=(("Federated", (PROVIDER,)),))] + [
    Principal(entries=(("Service", (s,)),)) for s in SERVICES]
trust_conditions = st.sampled_from([
    Condition("StringEquals", "aws:SourceAccount", (ACCT,)),
    Condition("ArnLike", "aws:SourceArn", (f"arn:aws:sagemaker:*:{ACCT}:*",)),
    Condition("ArnLike", "aws:PrincipalArn", (f"arn:aws:iam::{ACCT}:role/a",)),
    Condition("StringEquals", f"{ISSUER}:sub", ("repo:acme/x:environment:prod",)),
    Condition("StringEquals", "aws:RequestTag/kubernetes-namespace", ("chat",)),
    Condition("StringEquals", "iam:PassedToService", ("sagemaker.amazonaws.com",)),
])
role_actions = st.sampled_from(STS_ACTIONS + ["sts:AssumeRoleWithWebIdentity", "sts:*", "iam:PassRole", "*"])


@st.composite
def role_statements(draw, principals=AWS_PRINCIPALS + OTHER_PRINCIPALS, effect=None):
    """A trust-policy statement (`principals` given) or an identity statement on roles (`principals` None)."""
    return Statement(
        effect=effect or draw(st.sampled_from(["Allow", "Deny"])),
        actions=tuple(draw(st.lists(role_actions, min_size=1, max_size=2))),
        resources=() if principals else tuple(draw(st.lists(st.sampled_from([TARGET, FOREIGN_ROLE, "*"]), min_size=1,
                                                                        max_size=2))),
        conditions=tuple(draw(st.lists(trust_conditions, max_size=2, unique_by=lambda c: c.key))),
        principal=draw(st.sampled_from(principals)) if principals else None,
    )


def role_docs(principals=AWS_PRINCIPALS + OTHER_PRINCIPALS, effect=None):
    return st.lists(role_statements(principals, effect), max_size=4).map(lambda s: PolicyDocument(tuple(s)))


@st.composite
def role_contexts(draw):
    ctx = {}
    if draw(st.booleans()):
        ctx["aws:SourceAccount"] = draw(st.sampled_from([ACCT, OTHER]))
        ctx["aws:SourceArn"] = f"arn:aws:sagemaker:eu-west-1:{ctx['aws:SourceAccount']}:training-job/t"
    if draw(st.booleans()):
        ctx[f"{ISSUER}:sub"] = draw(st.sampled_from(["repo:acme/x:environment:prod", "repo:evil/x:ref:refs/heads/x"]))
    if draw(st.booleans()):
        ctx["aws:RequestTag/kubernetes-namespace"] = draw(st.sampled_from(["chat", "other"]))
    if draw(st.booleans()):
        ctx["iam:PassedToService"] = draw(st.sampled_from(SERVICES))
    return ctx


def on_role(principal, action, context, role=TARGET, **policies) -> str:
    return Evaluator(**policies).evaluate(Request(principal, action, role, context=context)).effect


@EXAMPLES
@given(trust=role_docs(ACCOUNT_PRINCIPALS, "Allow"), identity=docs(), caller=st.sampled_from(SAME_CALLERS),
       action=st.sampled_from(STS_ACTIONS), ctx=role_contexts())
def test_a_trust_policy_naming_only_accounts_needs_an_identity_permission(trust, identity, caller, action, ctx):
    """Naming the account root delegates to IAM: a caller whose identity policies grant no STS stays out."""
    no_sts = PolicyDocument(tuple(s for s in identity.statements if "*" not in s.actions))
    assert on_role(caller, action, ctx, identity=[no_sts], resource=trust) != ALLOW


@EXAMPLES
@given(trust=role_docs(), identity=role_docs(None), action=st.sampled_from(STS_ACTIONS), ctx=role_contexts())
def test_a_cross_account_caller_needs_both_the_trust_and_the_identity_policy(trust, identity, action, ctx):
    assert on_role(ROLES[2], action, ctx, resource=trust) != ALLOW
    assert on_role(ROLES[2], action, ctx, identity=[identity]) != ALLOW
    if on_role(ROLES[2], action, ctx, identity=[identity], resource=trust) == ALLOW:
        assert on_role(ROLES[2], action, ctx, identity=[identity], resource=PolicyDocument(())) != ALLOW


@EXAMPLES
@given(trust=role_docs(AWS_PRINCIPALS), identity=role_docs(None), service=st.sampled_from(SERVICES),
       action=st.sampled_from(STS_ACTIONS), ctx=role_contexts())
def test_a_service_is_never_allowed_by_a_statement_naming_aws_principals(trust, identity, service, action, ctx):
    assert on_role(service, action, ctx, identity=[identity], resource=trust) != ALLOW


@EXAMPLES
@given(trust=role_docs(), identity=role_docs(None), scp=role_docs(None), ctx=role_contexts())
def test_a_web_identity_ignores_identity_policies_and_scps(trust, identity, scp, ctx):
    action = "sts:AssumeRoleWithWebIdentity"
    alone = on_role(PROVIDER, action, ctx, resource=trust)
    assert on_role(PROVIDER, action, ctx, resource=trust, identity=[identity], scps=[scp]) == alone


@EXAMPLES
@given(trust=role_docs(), identity=role_docs(None), ctx=role_contexts(),
       caller=st.sampled_from(SAME_CALLERS + ROLES[2:]))
def test_a_role_of_another_account_is_never_passed(trust, identity, ctx, caller):
    star = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
    role = FOREIGN_ROLE if caller.split(":")[4] == ACCT else TARGET
    assert on_role(caller, "iam:PassRole", ctx, role, identity=[identity, star], resource=trust) != ALLOW


@EXAMPLES
@given(trust=role_docs(effect="Allow"), identity=role_docs(None), ctx=role_contexts(),
       caller=st.sampled_from(SAME_CALLERS))
def test_pass_role_is_decided_by_the_identity_policy_alone(trust, identity, ctx, caller):
    with_trust = on_role(caller, "iam:PassRole", ctx, identity=[identity], resource=trust)
    assert with_trust == on_role(caller, "iam:PassRole", ctx, identity=[identity])


@EXAMPLES
@given(identity=role_docs(None, "Allow"), caller=st.sampled_from(SAME_CALLERS), action=st.sampled_from(STS_ACTIONS),
       ctx=role_contexts())
def test_a_trust_policy_naming_the_callers_role_suffices_in_its_account(identity, caller, action, ctx):
    role = f"arn:aws:iam::{ACCT}:role/{caller.split('/')[1]}"
    named = PolicyDocument((Statement("Allow", actions=(action,), principal=Principal.aws(role)),))
    assert on_role(caller, action, ctx, identity=[identity], resource=named) == ALLOW
