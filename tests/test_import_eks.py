"""How `slpc import` reads EKS out of a trust policy (verify/live/eks.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from strategies import PROPERTY

from slpc.verify.live import eks

ISSUER = "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)


def statement(condition=None, principal=None) -> dict:
    s = {"Effect": "Allow", "Principal": principal or {"Federated": PROVIDER},
         "Action": "sts:AssumeRoleWithWebIdentity"}
    return {**s, "Condition": condition} if condition is not None else s


@PROPERTY
@given(st.lists(st.tuples(names, names), min_size=1, max_size=4, unique=True), st.booleans())
def test_each_exact_subject_is_one_service_account(pairs, upper_key):
    """Every `system:serviceaccount:NS:SA` of a StringEquals `:sub` is one named service
    account, whatever the case of the condition key (IAM's keys are case-insensitive)."""
    key = f"{ISSUER}:sub".upper() if upper_key else f"{ISSUER}:sub"
    subs = [f"system:serviceaccount:{ns}:{sa}" for ns, sa in pairs]
    got = eks.service_accounts(statement({"StringEquals": {key: subs, f"{ISSUER}:aud": "sts.amazonaws.com"}}))
    assert [(x.issuer, x.region, x.namespace, x.name) for x in got] == [
        (ISSUER, "eu-central-1", ns, sa) for ns, sa in pairs]


@PROPERTY
@given(names)
def test_a_pattern_or_no_subject_condition_names_no_service_account(ns):
    for condition in ({"StringLike": {f"{ISSUER}:sub": f"system:serviceaccount:{ns}:*"}},
                      {"StringEquals": {f"{ISSUER}:sub": f"system:serviceaccount:{ns}:x"},
                       "StringLike": {f"{ISSUER}:sub": f"system:serviceaccount:{ns}:*"}},
                      {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}}, None):
        (got,) = eks.service_accounts(statement(condition))
        assert got.namespace is None and got.name is None and got.issuer == ISSUER


def test_a_subject_that_is_not_a_service_account_is_kept_unnamed():
    (got,) = eks.service_accounts(statement({"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:ml"}}))
    assert got.namespace is None and got.text == "system:serviceaccount:ml"


def test_only_eks_oidc_providers_and_pod_identity_count():
    github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    assert eks.service_accounts(statement({}, {"Federated": github})) == []
    assert eks.service_accounts(statement({}, {"AWS": PROVIDER})) == []
    assert eks.trusts_pod_identity(statement(None, {"Service": ["ecs-tasks.amazonaws.com", eks.POD_IDENTITY]}))
    assert not eks.trusts_pod_identity(statement(None, {"AWS": "*"}))
    assert eks.issuer_of(PROVIDER) == ISSUER and eks.issuer_of(github) is None
