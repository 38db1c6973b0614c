"""Obtaining a role's credentials: the trust policy as STS's resource policy, web identities,
iam:PassRole, and the guardrails on roles -- one rule per test, then the compiled example."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from conftest import EXAMPLE
from slpc.app.commands.explain import Probe
from slpc.app.pipeline import compile_text
from slpc.dsl import format_spec
from slpc.policy.document import PolicyDocument, Statement, from_json
from slpc.verify.deployment import TRUST, Deployment, Policy
from slpc.verify.evaluate import EXPLICIT_DENY, IMPLICIT_DENY, evaluate
from slpc.verify.meaning import Meaning
from slpc.verify.request import FEDERATED, IAM_KINDS, Request
from strategies import EXAMPLES, trusted_specs

ACCT, OTHER = "111122223333", "444455556666"
ROLE = lambda name, acct=ACCT: f"arn:aws:iam::{acct}:role/{name}"  # noqa: E731
TARGET, CALLER, XCALLER = ROLE("target"), ROLE("caller"), ROLE("partner", OTHER)
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/caller/s1"
ISSUER = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/{ISSUER}"
SAGEMAKER = "sagemaker.amazonaws.com"


def policy(*statements: dict) -> PolicyDocument:
    return from_json({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal, action="sts:AssumeRole", **extra) -> PolicyDocument:
    return policy({"Effect": "Allow", "Action": action, "Principal": principal, **extra})


def may(action="sts:AssumeRole", resource=TARGET) -> PolicyDocument:
    return policy({"Effect": "Allow", "Action": action, "Resource": resource})


def obtain(principal=CALLER, action="sts:AssumeRole", context=None, **policies):
    return evaluate(Request(principal, action, TARGET, context=context), **policies)


# --------------------------------------------------------------------------- #
# sts:AssumeRole: the trust policy must allow


@pytest.mark.parametrize("named", [CALLER, SESSION])
def test_same_account_trust_naming_the_caller_suffices(named):
    d = obtain(SESSION, resource=trust({"AWS": named}))
    assert d.allowed and d.reason == "trust policy allows the caller"


def test_same_account_root_in_trust_needs_the_identity_policy():
    root = trust({"AWS": f"arn:aws:iam::{ACCT}:root"})
    d = obtain(resource=root)
    assert d.effect == IMPLICIT_DENY and "names only the account" in d.reason
    assert obtain(resource=root, identity=[may()]).allowed


def test_identity_policy_alone_never_obtains_a_role():
    d = obtain(identity=[may("sts:*", "*")])
    assert d.effect == IMPLICIT_DENY and "trust policy" in d.reason
    other = trust({"AWS": ROLE("someone-else")})
    d = obtain(resource=other, identity=[may("sts:*", "*")])
    assert d.effect == IMPLICIT_DENY and "names neither the caller nor its account" in d.reason


def test_cross_account_needs_trust_and_identity():
    named = trust({"AWS": XCALLER})
    assert obtain(XCALLER, resource=named).effect == IMPLICIT_DENY
    assert obtain(XCALLER, identity=[may()]).effect == IMPLICIT_DENY
    assert obtain(XCALLER, resource=named, identity=[may()]).allowed
    assert obtain(XCALLER, resource=trust({"AWS": OTHER}), identity=[may()]).allowed


@pytest.mark.parametrize("action", ["sts:TagSession", "sts:SetSourceIdentity"])
def test_session_shaping_actions_follow_the_trust_rule(action):
    assert not obtain(action=action, identity=[may(action)]).allowed
    assert obtain(action=action, resource=trust({"AWS": CALLER}, action)).allowed


def test_trust_conditions_are_read_on_the_request():
    pattern = f"arn:aws:iam::{ACCT}:role/aws-reserved/*AWSReservedSSO_X_*"
    sso = trust({"AWS": f"arn:aws:iam::{ACCT}:root"}, Condition={"ArnLike": {"aws:PrincipalArn": pattern}})
    session = f"arn:aws:sts::{ACCT}:assumed-role/AWSReservedSSO_X_0123456789abcdef/alice"
    sso_arn = f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_X_0123456789abcdef"
    assert obtain(session, context={"aws:PrincipalArn": sso_arn}, resource=sso, identity=[may()]).allowed
    assert not obtain(CALLER, resource=sso, identity=[may()]).allowed


def test_scps_are_the_callers_and_rcps_the_roles():
    named = trust({"AWS": CALLER})
    no_sts = policy({"Effect": "Deny", "Action": "sts:*", "Resource": "*"}, {"Effect": "Allow", "Action": "*",
                                                                            "Resource": "*"})
    assert obtain(resource=named, scps=[no_sts]).effect == EXPLICIT_DENY
    rcp = policy({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": TARGET})
    assert obtain(resource=named, rcps=[rcp]).effect == EXPLICIT_DENY


def test_anonymous_callers_never_obtain_a_role():
    d = obtain(None, resource=trust("*"))
    assert d.effect == IMPLICIT_DENY and "signed" in d.reason


# --------------------------------------------------------------------------- #
# AWS services and web identities


def test_a_service_is_allowed_only_by_its_service_statement_and_conditions():
    pinned = trust({"Service": SAGEMAKER}, Condition={"StringEquals": {"aws:SourceAccount": ACCT}})
    assert obtain(SAGEMAKER, context={"aws:SourceAccount": ACCT}, resource=pinned).allowed
    assert not obtain(SAGEMAKER, context={"aws:SourceAccount": OTHER}, resource=pinned).allowed
    assert not obtain(SAGEMAKER, resource=pinned).allowed
    assert not obtain("ec2.amazonaws.com", context={"aws:SourceAccount": ACCT}, resource=pinned).allowed
    assert not obtain(SAGEMAKER, resource=trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), identity=[may()]).allowed


def test_a_web_identity_is_a_federated_caller_named_by_its_provider():
    for name in (PROVIDER, f"federated:{PROVIDER}", "federated:accounts.google.com"):
        req = Request(name, "sts:AssumeRoleWithWebIdentity", TARGET)
        assert req.kind == FEDERATED and req.kind not in IAM_KINDS
    assert Request("federated:accounts.google.com", "sts:AssumeRoleWithWebIdentity", TARGET).provider == \
        "accounts.google.com"
    assert "aws:principalarn" not in Request(PROVIDER, "sts:AssumeRoleWithWebIdentity", TARGET).context


def test_web_identity_needs_the_provider_and_the_claims():
    oidc = trust({"Federated": PROVIDER}, "sts:AssumeRoleWithWebIdentity",
                 Condition={"StringEquals": {f"{ISSUER}:sub": "repo:acme/x:ref:refs/heads/main",
                                             f"{ISSUER}:aud": "sts.amazonaws.com"}})
    good = {f"{ISSUER}:sub": "repo:acme/x:ref:refs/heads/main", f"{ISSUER}:aud": "sts.amazonaws.com"}
    act = "sts:AssumeRoleWithWebIdentity"
    assert obtain(PROVIDER, act, good, resource=oidc).allowed
    assert not obtain(PROVIDER, act, {**good, f"{ISSUER}:sub": "repo:acme/x:ref:refs/heads/dev"}, resource=oidc).allowed
    assert not obtain(PROVIDER.replace(ACCT, OTHER), act, good, resource=oidc).allowed
    assert not obtain(CALLER, act, good, resource=oidc, identity=[may("sts:*", "*")]).allowed


def test_web_identity_ignores_identity_policies_and_scps_but_not_rcps():
    oidc = trust({"Federated": PROVIDER}, "sts:AssumeRoleWithWebIdentity")
    act = "sts:AssumeRoleWithWebIdentity"
    deny_all = policy({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert obtain(PROVIDER, act, resource=oidc, identity=[deny_all], scps=[deny_all]).allowed
    rcp = policy({"Effect": "Deny", "Principal": "*", "Action": act, "Resource": "*"})
    assert obtain(PROVIDER, act, resource=oidc, rcps=[rcp]).effect == EXPLICIT_DENY


# --------------------------------------------------------------------------- #
# iam:PassRole


def pass_role(principal=CALLER, role=TARGET, service=SAGEMAKER, **policies):
    return evaluate(Request(principal, "iam:PassRole", role, context={"iam:PassedToService": service}), **policies)


def test_pass_role_is_decided_by_the_identity_policy_and_the_passed_to_service():
    pinned = policy({"Effect": "Allow", "Action": "iam:PassRole", "Resource": TARGET,
                     "Condition": {"StringEquals": {"iam:PassedToService": SAGEMAKER}}})
    assert pass_role(identity=[pinned]).allowed
    assert not pass_role(service="ec2.amazonaws.com", identity=[pinned]).allowed
    d = pass_role(resource=trust({"AWS": CALLER}, "iam:PassRole"))
    assert d.effect == IMPLICIT_DENY and "no resource policy" in d.reason


def test_a_role_of_another_account_is_never_passed():
    d = pass_role(XCALLER, identity=[may("*", "*")], resource=trust("*", "*"))
    assert d.effect == IMPLICIT_DENY and "only within its own account" in d.reason


def test_scps_deny_passing():
    scp = policy({"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                  "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE("deployer")}}},
                 {"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert pass_role(identity=[may("*", "*")], scps=[scp]).effect == EXPLICIT_DENY
    assert pass_role(ROLE("deployer"), identity=[may("*", "*")], scps=[scp]).allowed


# --------------------------------------------------------------------------- #
# The compiled example

TRAINER, INFERENCE, DEPLOYER = ROLE("llm-trainer"), ROLE("llm-inference"), ROLE("llm-ci-deployer")
ADMIN, EVALUATION_ADMIN = ROLE("security-admin"), ROLE("evaluation-admin", OTHER)
STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
TRAINING_JOB = {"aws:SourceAccount": ACCT, "aws:SourceArn": f"arn:aws:sagemaker:eu-central-1:{ACCT}:training-job/t"}


from test_perimeter import compiled, world  # noqa: F401,E402  (the compiled example and its world, as fixtures)


def passes(world, who, role, service, star=False):
    return world.decide(who, "iam:PassRole", role, {"iam:PassedToService": service},
                        extra_identity=(STAR,) if star else ()).allowed


def test_deployer_may_pass_trainer_to_sagemaker_only(world):
    assert passes(world, DEPLOYER, TRAINER, SAGEMAKER)
    for service in ("ec2.amazonaws.com", "lambda.amazonaws.com", "pods.eks.amazonaws.com"):
        assert not passes(world, DEPLOYER, TRAINER, service)
        assert not passes(world, DEPLOYER, TRAINER, service, star=True)  # the SCP holds


@pytest.mark.parametrize("star", [False, True])
def test_nobody_else_passes_trainer(world, star):
    for who in (INFERENCE, ADMIN, ROLE("Administrator"), ROLE("x", OTHER)):
        assert not passes(world, who, TRAINER, SAGEMAKER, star), who


def test_a_role_of_the_other_account_is_not_passed_even_by_its_passer(world):
    evaluator = ROLE("model-evaluator", OTHER)
    assert passes(world, EVALUATION_ADMIN, evaluator, "pods.eks.amazonaws.com")
    assert not passes(world, DEPLOYER, evaluator, "pods.eks.amazonaws.com", star=True)


def test_sagemaker_assumes_trainer_only_for_the_deployment_account(world):
    assert world.decide(SAGEMAKER, "sts:AssumeRole", TRAINER, TRAINING_JOB).allowed
    foreign = {"aws:SourceAccount": OTHER, "aws:SourceArn": f"arn:aws:sagemaker:eu-central-1:{OTHER}:training-job/t"}
    assert not world.decide(SAGEMAKER, "sts:AssumeRole", TRAINER, foreign).allowed
    assert not world.decide("ec2.amazonaws.com", "sts:AssumeRole", TRAINER, TRAINING_JOB).allowed


@pytest.mark.parametrize("star", [False, True])
def test_no_role_assumes_trainer(world, star):
    for who in (DEPLOYER, INFERENCE, ADMIN, ROLE("x", OTHER)):
        assert not world.decide(who, "sts:AssumeRole", TRAINER, {}, extra_identity=(STAR,) if star else ()).allowed


def _rewritten(compiled, role_arn: str, doc: dict) -> Deployment:
    """The example's artifacts with one role's trust policy replaced (as its account's admin could)."""
    return Deployment(Policy(a.kind, a.target, a.account, a.path,
                             from_json(doc) if (a.kind, a.target) == (TRUST, role_arn) else a.document, a.within)
                      for a in compiled.artifacts)


def test_the_rcp_keeps_the_other_account_out_even_of_a_rewritten_trust_policy(compiled):
    anyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                      "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    world = _rewritten(compiled, TRAINER, anyone)
    assert world.decide(ROLE("Administrator"), "sts:AssumeRole", TRAINER, {}, extra_identity=(STAR,)).allowed
    d = world.decide(ROLE("x", OTHER), "sts:AssumeRole", TRAINER, {}, extra_identity=(STAR,))
    assert d.effect == EXPLICIT_DENY and "DenyAssumingRolesFromOtherAccounts" in {r.sid for r in d.statements}


def test_github_production_becomes_the_deployer_and_nothing_else(world):
    act = "sts:AssumeRoleWithWebIdentity"
    claims = {f"{ISSUER}:sub": "repo:acme/llm-platform:environment:production", f"{ISSUER}:aud": "sts.amazonaws.com"}
    assert world.decide(PROVIDER, act, DEPLOYER, claims).allowed
    branch = {**claims, f"{ISSUER}:sub": "repo:acme/llm-platform:ref:refs/heads/x"}
    assert not world.decide(PROVIDER, act, DEPLOYER, branch).allowed
    d = world.decide(PROVIDER, act, TRAINER, claims)
    assert d.effect == EXPLICIT_DENY and {r.sid for r in d.statements} == {"DenyWebIdentityForRoles"}


def test_only_admins_change_a_role(world):
    for action in ("iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy"):
        assert world.decide(ADMIN, action, TRAINER, {}, extra_identity=(STAR,)).allowed
        assert not world.decide(DEPLOYER, action, TRAINER, {}, extra_identity=(STAR,)).allowed
        assert not world.decide(ADMIN, action, TRAINER, {}).allowed  # IAM alone grants it, and it has none


def test_the_trust_policy_does_not_govern_iam_actions_on_the_role(world):
    d = world.decide(SAGEMAKER, "iam:PassRole", TRAINER, {"iam:PassedToService": SAGEMAKER})
    assert not d.allowed and not any(r.policy.endswith(".trust.json") for r in d.statements)


# --------------------------------------------------------------------------- #
# Generated specs: the artifacts let exactly the declared hops into every role


@pytest.mark.property
@settings(max_examples=max(10, EXAMPLES // 4), deadline=None)
@given(spec=trusted_specs())
def test_the_artifacts_let_exactly_the_declared_hops_into_every_role(spec):
    compiled = compile_text(format_spec(spec), "gen.slp")
    assume(not any(d.code in ("E501", "E502") for d in compiled.diagnostics))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    probe, meaning = Probe(compiled), Meaning(compiled.model)
    for role in compiled.model.principals:
        declared = meaning.obtains(role)
        if declared is not None:
            assert set(probe.hops(role)) == declared, (format_spec(spec), role)
