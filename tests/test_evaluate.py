"""Evaluation rules of slpc.verify.evaluate, one decision per test."""

from __future__ import annotations

import pytest

from slpc.policy.document import from_json
from slpc.verify.evaluate import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Evaluator, compile_policy, evaluate
from slpc.verify.request import Request

ACCT = "111122223333"
OTHER = "444455556666"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/s1"
USER = f"arn:aws:iam::{ACCT}:user/alice"
XROLE = f"arn:aws:iam::{OTHER}:role/partner"
BUCKET = "arn:aws:s3:::data"
OBJ = f"{BUCKET}/k.txt"
KEY = f"arn:aws:kms:eu-west-1:{ACCT}:key/k1"
REPO = f"arn:aws:ecr:eu-west-1:{ACCT}:repository/llm/base"


def policy(*statements: dict, version: str | None = "2012-10-17"):
    doc = {"Statement": list(statements)}
    if version:
        doc["Version"] = version
    return from_json(doc)


def allow(action="s3:GetObject", resource=OBJ, **extra):
    out = {"Effect": "Allow", "Action": action, **extra}
    if resource is not None:
        out["Resource"] = resource
    return out


def deny(action="s3:GetObject", resource=OBJ, **extra):
    return {**allow(action, resource, **extra), "Effect": "Deny"}


def req(principal=ROLE, action="s3:GetObject", resource=OBJ, **kw):
    kw.setdefault("resource_account", ACCT)
    return Request(principal, action, resource, **kw)


# --------------------------------------------------------------------------- #
# Basics and explicit deny


def test_identity_allow_same_account():
    d = evaluate(req(), identity=[policy(allow(Sid="Read"))])
    assert d.effect == ALLOW
    assert [(r.policy, r.index, r.sid) for r in d.statements] == [("identity[0]", 0, "Read")]


def test_no_policy_is_implicit_deny():
    assert evaluate(req()).effect == IMPLICIT_DENY
    assert evaluate(req(), identity=[policy(allow(resource=f"{BUCKET}/other"))]).effect == IMPLICIT_DENY


def test_explicit_deny_in_identity_beats_allow_and_names_the_statement():
    d = evaluate(req(), identity=[policy(allow(), deny(Sid="NoGet"))])
    assert d.effect == EXPLICIT_DENY
    assert [(r.policy, r.index, r.sid, r.effect) for r in d.statements] == [("identity[0]", 1, "NoGet", "Deny")]


def test_explicit_deny_in_resource_policy_beats_identity_allow():
    bucket = policy(deny(Principal="*", Sid="DenyAll"))
    d = evaluate(req(), identity=[policy(allow())], resource=("bucket", bucket))
    assert d.effect == EXPLICIT_DENY and d.statements[0].policy == "bucket"


def test_explain_mentions_labels():
    d = evaluate(req(), identity=[("app-policy", policy(allow(Sid="Read")))])
    assert "app-policy#0 (Read)" in d.explain()


# --------------------------------------------------------------------------- #
# Action, Resource and Principal matching


@pytest.mark.parametrize(
    "pattern, action, expected",
    [
        ("s3:getobject", "s3:GetObject", True),
        ("S3:Get*", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObjects", False),
        ("*", "kms:Decrypt", True),
        ("s3:Put*", "s3:GetObject", False),
    ],
)
def test_action_matching(pattern, action, expected):
    d = evaluate(req(action=action), identity=[policy(allow(pattern, "*"))])
    assert d.allowed is expected


def test_not_action():
    p = policy({"Effect": "Allow", "NotAction": ["s3:Delete*"], "Resource": "*"})
    assert evaluate(req(action="s3:GetObject"), identity=[p]).allowed
    assert not evaluate(req(action="s3:DeleteObject"), identity=[p]).allowed


def test_resource_matching_is_case_sensitive_with_wildcards():
    p = policy(allow(resource=f"{BUCKET}/models/*"))
    assert evaluate(req(resource=f"{BUCKET}/models/a/b"), identity=[p]).allowed
    assert not evaluate(req(resource=f"{BUCKET}/Models/a"), identity=[p]).allowed
    assert evaluate(req(resource=f"{BUCKET}/x"), identity=[policy(allow(resource="arn:aws:s3:::dat?/*"))]).allowed


def test_not_resource():
    p = policy(allow(resource=None, NotResource=[f"{BUCKET}/secret/*"]))
    assert evaluate(req(resource=f"{BUCKET}/public/x"), identity=[p]).allowed
    assert not evaluate(req(resource=f"{BUCKET}/secret/x"), identity=[p]).allowed


def test_resource_policy_without_resource_applies_to_its_resource():
    repo = policy(allow(["ecr:BatchGetImage"], None, Principal={"AWS": ROLE}))
    assert evaluate(req(action="ecr:BatchGetImage", resource=REPO), resource=repo).allowed


def test_identity_allow_without_resource_never_applies_but_deny_does():
    c = compile_policy(policy(allow(resource=None)), "identity", "p")
    assert [r.index for r in c.ignored] == [0]
    assert not evaluate(req(), identity=[c]).allowed
    assert evaluate(req(), identity=[policy(allow(), deny(resource=None))]).effect == EXPLICIT_DENY


@pytest.mark.parametrize(
    "principal, allowed",
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": ROLE}, True),
        ({"AWS": f"arn:aws:iam::{ACCT}:role/other"}, False),
        ({"AWS": [f"arn:aws:iam::{ACCT}:role/other", ROLE]}, True),
        ({"Service": "s3.amazonaws.com"}, False),
    ],
)
def test_resource_policy_principal_matching(principal, allowed):
    assert evaluate(req(), resource=policy(allow(Principal=principal))).allowed is allowed


def test_session_is_matched_by_its_role_arn_and_its_own_arn():
    for named in (ROLE, SESSION):
        assert evaluate(req(SESSION), resource=policy(allow(Principal={"AWS": named}))).allowed


def test_not_principal_deny_spares_only_fully_listed_callers():
    spared = {"AWS": [ROLE, f"arn:aws:iam::{ACCT}:root"]}
    p = policy(allow(Principal="*"), deny(NotPrincipal=spared))
    assert evaluate(req(ROLE), resource=p).allowed
    assert evaluate(req(f"arn:aws:iam::{ACCT}:role/other"), resource=p).effect == EXPLICIT_DENY
    # Without the account listed, the account-level identity is not excluded.
    p2 = policy(allow(Principal="*"), deny(NotPrincipal={"AWS": ROLE}))
    assert evaluate(req(ROLE), resource=p2).effect == EXPLICIT_DENY


def test_not_principal_deny_always_denies_callers_with_a_boundary():
    spared = {"AWS": [ROLE, f"arn:aws:iam::{ACCT}:root"]}
    p = policy(deny(NotPrincipal=spared))
    ident = [policy(allow())]
    assert evaluate(req(), identity=ident, resource=p).allowed
    assert evaluate(req(), identity=ident, resource=p, boundary=policy(allow())).effect == EXPLICIT_DENY


# --------------------------------------------------------------------------- #
# Same account, cross account, root delegation


def test_same_account_resource_policy_alone_allows():
    assert evaluate(req(), resource=policy(allow(Principal={"AWS": ROLE}))).allowed


@pytest.mark.parametrize("root", [f"arn:aws:iam::{ACCT}:root", ACCT])
def test_same_account_root_principal_delegates_to_iam(root):
    bucket = policy(allow(Principal={"AWS": root}))
    d = evaluate(req(), resource=bucket)
    assert d.effect == IMPLICIT_DENY and "delegates" in d.reason
    assert evaluate(req(), resource=bucket, identity=[policy(allow())]).allowed


def test_same_account_identity_alone_allows_despite_silent_resource_policy():
    bucket = policy(allow(Principal={"AWS": f"arn:aws:iam::{ACCT}:role/other"}))
    assert evaluate(req(), identity=[policy(allow())], resource=bucket).allowed


def test_cross_account_needs_both_sides():
    bucket = policy(allow(Principal={"AWS": XROLE}))
    ident = [policy(allow())]
    assert evaluate(req(XROLE), resource=bucket).effect == IMPLICIT_DENY
    assert evaluate(req(XROLE), identity=ident).effect == IMPLICIT_DENY
    d = evaluate(req(XROLE), identity=ident, resource=bucket)
    assert d.allowed and {r.policy for r in d.statements} == {"identity[0]", "resource"}


def test_cross_account_account_principal_plus_identity_allows():
    bucket = policy(allow(Principal={"AWS": f"arn:aws:iam::{OTHER}:root"}))
    assert evaluate(req(XROLE), identity=[policy(allow())], resource=bucket).allowed
    assert evaluate(req(XROLE), resource=bucket).effect == IMPLICIT_DENY


def test_resource_account_comes_from_arn_or_argument():
    key_req = Request(XROLE, "kms:Decrypt", KEY)
    assert key_req.resource_account == ACCT and not key_req.same_account
    s3_req = Request(ROLE, "s3:GetObject", OBJ)
    assert s3_req.resource_account == ACCT  # assumed: the principal's account


# --------------------------------------------------------------------------- #
# KMS


def key_req(principal=ROLE, action="kms:Decrypt"):
    return Request(principal, action, KEY)


def test_kms_identity_policy_alone_never_allows():
    d = evaluate(key_req(), identity=[policy(allow("kms:*", "*"))])
    assert d.effect == IMPLICIT_DENY and "key policy" in d.reason


def test_kms_key_policy_naming_role_suffices_same_account():
    assert evaluate(key_req(), resource=policy(allow("kms:Decrypt", "*", Principal={"AWS": ROLE}))).allowed


def test_kms_root_delegation_needs_identity_policy():
    key = policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    assert evaluate(key_req(), resource=key).effect == IMPLICIT_DENY
    assert evaluate(key_req(), resource=key, identity=[policy(allow("kms:Decrypt", KEY))]).allowed


def test_kms_key_policy_not_naming_caller_denies_even_with_identity():
    key = policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCT}:role/admin"}))
    assert evaluate(key_req(), resource=key, identity=[policy(allow("kms:*", "*"))]).effect == IMPLICIT_DENY


def test_kms_cross_account_needs_key_policy_and_identity():
    key = policy(allow("kms:Decrypt", "*", Principal={"AWS": XROLE}))
    assert evaluate(key_req(XROLE), resource=key).effect == IMPLICIT_DENY
    assert evaluate(key_req(XROLE), resource=key, identity=[policy(allow("kms:Decrypt", KEY))]).allowed


# --------------------------------------------------------------------------- #
# Boundaries, session policies, SCPs, RCPs, endpoint policies


def test_boundary_limits_identity_allow():
    ident = [policy(allow())]
    d = evaluate(req(), identity=ident, boundary=policy(allow("s3:ListBucket", "*")))
    assert d.effect == IMPLICIT_DENY and "boundary" in d.reason
    assert evaluate(req(), identity=ident, boundary=policy(allow("s3:*", "*"))).allowed


def test_boundary_deny_is_explicit():
    d = evaluate(req(), identity=[policy(allow())], boundary=policy(allow("*", "*"), deny()))
    assert d.effect == EXPLICIT_DENY and d.statements[0].policy == "boundary"


def test_boundary_does_not_limit_resource_grant_to_user_arn():
    narrow = policy(allow("s3:ListBucket", "*"))
    assert evaluate(req(USER), resource=policy(allow(Principal={"AWS": USER})), boundary=narrow).allowed


def test_boundary_limits_resource_grant_to_role_arn_but_not_session_arn():
    narrow = policy(allow("s3:ListBucket", "*"))
    by_role = policy(allow(Principal={"AWS": ROLE}))
    by_session = policy(allow(Principal={"AWS": SESSION}))
    assert evaluate(req(SESSION), resource=by_role, boundary=narrow).effect == IMPLICIT_DENY
    assert evaluate(req(SESSION), resource=by_session, boundary=narrow).allowed
    assert evaluate(req(SESSION), resource=policy(allow(Principal="*")), boundary=narrow).effect == IMPLICIT_DENY


def test_session_policy_limits_identity_and_role_grants():
    narrow = policy(allow("s3:ListBucket", "*"))
    d = evaluate(req(SESSION), identity=[policy(allow())], session=narrow)
    assert d.effect == IMPLICIT_DENY and "session" in d.reason
    assert evaluate(req(SESSION), identity=[policy(allow())], session=policy(allow())).allowed
    assert evaluate(req(SESSION), resource=policy(allow(Principal={"AWS": SESSION})), session=narrow).allowed


def test_every_scp_must_allow():
    ident = [policy(allow())]
    full = policy(allow("*", "*"))
    assert evaluate(req(), identity=ident, scps=[full]).allowed
    d = evaluate(req(), identity=ident, scps=[full, ("ou-scp", policy(allow("kms:*", "*")))])
    assert d.effect == IMPLICIT_DENY and "ou-scp" in d.reason
    assert evaluate(req(), identity=ident, scps=[full, policy(deny("s3:*", "*"))]).effect == EXPLICIT_DENY


def test_scps_and_identity_policies_do_not_apply_to_service_principals():
    bucket = policy(allow(Principal={"Service": "cloudtrail.amazonaws.com"}))
    svc = req("cloudtrail.amazonaws.com")
    assert evaluate(svc, resource=bucket, scps=[policy(deny("*", "*"))], identity=[policy(deny("*", "*"))]).allowed
    assert evaluate(svc, identity=[policy(allow("*", "*"))]).effect == IMPLICIT_DENY
    assert svc.context["aws:principalisawsservice"] == ("true",)


def test_rcp_denies_and_needs_no_allow():
    ident = [policy(allow())]
    only_deny = policy(deny("s3:*", "*", Principal="*", Condition={"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}))
    assert evaluate(req(context={"aws:PrincipalOrgID": "o-1"}), identity=ident, rcps=[only_deny]).allowed
    d = evaluate(req(context={"aws:PrincipalOrgID": "o-2"}), identity=ident, rcps=[only_deny])
    assert d.effect == EXPLICIT_DENY and d.statements[0].policy == "rcp[0]"


def test_rcp_applies_to_anonymous_callers():
    public = policy(allow(Principal="*"))
    assert evaluate(req(None), resource=public).allowed
    assert evaluate(req(None), resource=public, rcps=[policy(deny("s3:*", "*", Principal="*"))]).effect == EXPLICIT_DENY


def test_endpoint_policy_applies_only_through_its_endpoint():
    ident = [policy(allow())]
    endpoint = policy(allow("s3:PutObject", "*", Principal="*"))
    through = req(context={"aws:SourceVpce": "vpce-1"})
    d = evaluate(through, identity=ident, endpoint=endpoint)
    assert d.effect == IMPLICIT_DENY and "endpoint" in d.reason
    assert evaluate(req(), identity=ident, endpoint=endpoint).allowed
    assert evaluate(through, identity=ident, endpoint=endpoint, endpoint_id="vpce-2").allowed
    assert evaluate(through, identity=ident, endpoint=policy(allow("s3:*", "*", Principal="*"))).allowed


# --------------------------------------------------------------------------- #
# Anonymous callers


def test_anonymous_only_via_wildcard_resource_policy():
    anon = req(None)
    assert evaluate(anon, identity=[policy(allow("*", "*"))]).effect == IMPLICIT_DENY
    assert evaluate(anon, resource=policy(allow(Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))).effect == IMPLICIT_DENY
    assert evaluate(anon, resource=policy(allow(Principal="*"))).allowed
    assert evaluate(anon, resource=policy(allow(Principal={"AWS": "*"}))).allowed


def test_anonymous_gets_no_filled_principal_keys():
    anon = req(None)
    assert "aws:principalarn" not in anon.context and "aws:principalisawsservice" not in anon.context
    p = policy(allow(Principal="*", Condition={"Null": {"aws:PrincipalAccount": "false"}}))
    assert not evaluate(anon, resource=p).allowed


# --------------------------------------------------------------------------- #
# Conditions, context filling, variables, unknown operators


def test_filled_principal_arn_of_session_is_the_role_arn():
    r = req(SESSION)
    assert r.context["aws:principalarn"] == (ROLE,)
    assert r.context["aws:principalaccount"] == (ACCT,)
    assert r.context["aws:resourceaccount"] == (ACCT,)
    p = policy(allow(), deny(Condition={"ArnNotEquals": {"aws:PrincipalArn": [ROLE]}}))
    assert evaluate(r, identity=[p]).allowed
    assert evaluate(req(f"arn:aws:sts::{ACCT}:assumed-role/other/s"), identity=[p]).effect == EXPLICIT_DENY


def test_given_context_keys_win_and_are_case_insensitive():
    r = req(ROLE, context={"AWS:PrincipalArn": f"arn:aws:iam::{ACCT}:role/path/app"})
    assert r.context["aws:principalarn"] == (f"arn:aws:iam::{ACCT}:role/path/app",)


def test_data_perimeter_network_deny():
    vpce_or_ip = {
        "StringNotEqualsIfExists": {"aws:SourceVpce": ["vpce-1"]},
        "NotIpAddressIfExists": {"aws:SourceIp": ["203.0.113.0/24"]},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    p = [policy(allow(), deny("s3:*", "*", Condition=vpce_or_ip))]
    assert evaluate(req(context={"aws:SourceVpce": "vpce-1"}), identity=p).allowed
    assert evaluate(req(context={"aws:SourceIp": "203.0.113.9"}), identity=p).allowed
    assert evaluate(req(context={"aws:SourceVpce": "vpce-2"}), identity=p).effect == EXPLICIT_DENY
    assert evaluate(req(context={"aws:SourceIp": "198.51.100.1"}), identity=p).effect == EXPLICIT_DENY


def test_conditions_are_anded_across_keys():
    p = [policy(allow(Condition={"Bool": {"aws:SecureTransport": True}, "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))]
    assert evaluate(req(context={"aws:SecureTransport": True, "aws:RequestedRegion": "eu-west-1"}), identity=p).allowed
    assert not evaluate(req(context={"aws:SecureTransport": True, "aws:RequestedRegion": "us-east-1"}), identity=p).allowed


def test_resource_policy_variables_need_2012_version():
    stmt = allow(resource=f"{BUCKET}/home/${{aws:username}}/*")
    r = req(USER, resource=f"{BUCKET}/home/alice/x")
    assert evaluate(r, identity=[policy(stmt)]).allowed
    assert not evaluate(req(USER, resource=f"{BUCKET}/home/bob/x"), identity=[policy(stmt)]).allowed
    assert not evaluate(r, identity=[policy(stmt, version="2008-10-17")]).allowed
    tagged = allow(resource=f"{BUCKET}/${{aws:PrincipalTag/team}}/*")
    assert evaluate(req(resource=f"{BUCKET}/red/x", context={"aws:PrincipalTag/team": "red"}), identity=[policy(tagged)]).allowed
    assert not evaluate(req(resource=f"{BUCKET}/red/x"), identity=[policy(tagged)]).allowed


def test_unknown_operator_allow_never_matches():
    c = compile_policy(policy(allow(Condition={"StringEqualz": {"k": "v"}})), "identity", "p")
    assert [r.index for r in c.ignored] == [0]
    assert evaluate(req(context={"k": "v"}), identity=[c]).effect == IMPLICIT_DENY


def test_unknown_operator_deny_matches_and_says_so():
    p = policy(allow(), deny(Condition={"StringEqualz": {"k": "v"}, "StringEquals": {"j": "w"}}))
    d = evaluate(req(context={"j": "w"}), identity=[p])
    assert d.effect == EXPLICIT_DENY and "StringEqualz" in (d.statements[0].note or "")
    # Its known conditions still count.
    assert evaluate(req(context={"j": "other"}), identity=[p]).allowed


def test_evaluator_compiles_once_and_is_reusable():
    ev = Evaluator(identity=[policy(allow("s3:Get*", "*"))], resource=policy(deny("s3:GetObject", f"{BUCKET}/secret/*", Principal="*")))
    assert ev.evaluate(req(resource=f"{BUCKET}/a")).allowed
    assert ev.evaluate(req(resource=f"{BUCKET}/secret/a")).effect == EXPLICIT_DENY
    assert ev.evaluate(req(action="s3:GetObjectAcl", resource=f"{BUCKET}/secret/a")).allowed
    with pytest.raises(ValueError):
        compile_policy(policy(allow()), "bucket")
