"""Every registered check fires on its failing policy and stays quiet on its passing one.

CASES is keyed by check id and parametrised from the registry, so a check added
without cases fails ``test_every_check_has_cases``.
"""

from __future__ import annotations

import json

import pytest

from slpc.verify.lint import REGISTRY, lint
from slpc.verify.lint.size import SIZE_LIMITS

V = "2012-10-17"
OBJ = "arn:aws:s3:::models/*"
BASE = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJ}
RES = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": OBJ}
DENY_RCP = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
SCP = {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
TRUST = "AWS::IAM::AssumeRolePolicyDocument"
ACCOUNT = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}
GITHUB = "token.actions.githubusercontent.com"
IRSA = "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


def oidc(issuer: str, sub: str | None = "repo:acme/llm:ref:refs/heads/main", aud: bool = True, like: bool = False) -> dict:
    """A web identity trust statement for `issuer`, with the claims asked for."""
    claims = {f"{issuer}:aud": "sts.amazonaws.com"} if aud else {}
    exact = {**claims, **({f"{issuer}:sub": sub} if sub and not like else {})}
    condition = {"StringEquals": exact} if exact else {}
    if sub and like:
        condition["StringLike"] = {f"{issuer}:sub": sub}
    return {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{issuer}"},
            **({"Condition": condition} if condition else {})}


def doc(*statements: dict, **top) -> dict:
    return {"Version": V, "Statement": list(statements), **top}


def st(base: dict = BASE, drop: tuple[str, ...] = (), **changes) -> dict:
    out = {k: v for k, v in base.items() if k not in drop}
    out.update(changes)
    return out


def cond(operator: str, key: str, values) -> dict:
    return st(Condition={operator: {key: values}})


def big(n: int) -> list[str]:
    return [f"arn:aws:s3:::bucket-{i:05d}/*" for i in range(n)]


def accounts(n: int) -> list[str]:
    return [f"arn:aws:iam::{111122220000 + i}:root" for i in range(n)]


def pretty(d: dict) -> str:
    return json.dumps(d, indent=8)


# id -> (policy type, resource type, failing policy, passing policy); text or a dict.
CASES = {
    "JSON_SYNTAX_ERROR": ("identity", None, '{"Version": ', doc(BASE)),
    "INVALID_POLICY_ELEMENT": ("identity", None, doc(st(Actions="s3:GetObject")), doc(BASE)),
    "MISSING_VERSION": ("identity", None, {"Statement": [BASE]}, doc(BASE)),
    "INVALID_VERSION": ("identity", None, doc(BASE, Version="2020-01-01"), doc(BASE)),
    "MISSING_STATEMENT": ("identity", None, doc(), doc(BASE)),
    "DATA_TYPE_MISMATCH": ("identity", None, doc(st(Action=5)), doc(BASE)),
    "MISSING_EFFECT": ("identity", None, doc(st(drop=("Effect",))), doc(BASE)),
    "INVALID_EFFECT": ("identity", None, doc(st(Effect="allow")), doc(BASE)),
    "MISSING_ACTION": ("identity", None, doc(st(drop=("Action",))), doc(BASE)),
    "MISSING_RESOURCE": ("identity", None, doc(st(drop=("Resource",))), doc(BASE)),
    "UNSUPPORTED_ELEMENT_COMBINATION": ("identity", None, doc(st(NotAction="s3:PutObject")), doc(BASE)),
    "UNIQUE_SIDS_REQUIRED": ("identity", None, doc(st(Sid="A"), st(Sid="A", Action="s3:PutObject")), doc(st(Sid="A"), st(Sid="B", Action="s3:PutObject"))),
    "UNIQUE_SIDS_RECOMMENDED": (
        "resource", "AWS::S3::Bucket", doc(st(RES, Sid="A"), st(RES, Sid="A", Action="s3:PutObject")), doc(st(RES, Sid="A"))
    ),
    "EMPTY_SID_VALUE": ("identity", None, doc(st(Sid="")), doc(st(Sid="Read"))),
    "REDUNDANT_STATEMENT": ("identity", None, doc(st(Sid="A"), st(Sid="B")), doc(st(Sid="A"), st(Sid="B", Action="s3:PutObject"))),
    "MISSING_PRINCIPAL": ("resource", "AWS::S3::Bucket", doc(BASE), doc(RES)),
    "UNSUPPORTED_PRINCIPAL": ("identity", None, doc(RES), doc(BASE)),
    "ALLOW_WITH_NOT_PRINCIPAL": (
        "resource", "AWS::S3::Bucket",
        doc(st(RES, drop=("Principal",), NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"})),
        doc(st(RES, drop=("Principal",), Effect="Deny", NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"})),
    ),
    "INVALID_PRINCIPAL_KEY": ("resource", "AWS::S3::Bucket", doc(st(RES, Principal={"User": "bob"})), doc(RES)),
    "EMPTY_OBJECT_PRINCIPAL": ("resource", "AWS::S3::Bucket", doc(st(RES, Principal={})), doc(RES)),
    "EMPTY_ARRAY_PRINCIPAL": ("resource", "AWS::S3::Bucket", doc(st(RES, Principal={"AWS": []})), doc(RES)),
    "SCP_SYNTAX_ERROR_PRINCIPAL": ("scp", None, doc(st(SCP, Principal="*")), doc(SCP)),
    "RCP_SYNTAX_ERROR_ALLOW": ("rcp", None, doc(st(DENY_RCP, Effect="Allow")), doc(DENY_RCP)),
    "RCP_SYNTAX_ERROR_PRINCIPAL": ("rcp", None, doc(st(DENY_RCP, Principal={"AWS": "111122223333"})), doc(DENY_RCP)),
    "RCP_SYNTAX_ERROR_NOTACTION": ("rcp", None, doc(st(DENY_RCP, drop=("Action",), NotAction="s3:GetObject")), doc(DENY_RCP)),
    "RCP_SYNTAX_ERROR_NOTPRINCIPAL": ("rcp", None, doc(st(DENY_RCP, drop=("Principal",), NotPrincipal={"AWS": "111122223333"})), doc(DENY_RCP)),
    "EMPTY_ARRAY_ACTION": ("identity", None, doc(st(Action=[])), doc(BASE)),
    "INVALID_SERVICE_IN_ACTION": ("identity", None, doc(st(Action="s4:GetObject")), doc(BASE)),
    "INVALID_ACTION": ("identity", None, doc(st(Action=["s3:GetObjekt"])), doc(st(Action=["s3:Get*"]))),
    "WILDCARD_IN_SERVICE_NAME": ("identity", None, doc(st(Action="s*:GetObject")), doc(BASE)),
    "REDUNDANT_ACTION": ("identity", None, doc(st(Action=["s3:GetObject", "s3:Get*"])), doc(st(Action=["s3:GetObject", "s3:PutObject"]))),
    "PASS_ROLE_WITH_STAR_IN_RESOURCE": (
        "identity", None,
        doc(st(Action="iam:PassRole", Resource="*")),
        doc(st(Action="iam:PassRole", Resource="arn:aws:iam::111122223333:role/TrainingJob")),
    ),
    "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE": (
        "identity", None,
        doc(st(Action="iam:*", Resource="*")),
        doc(st(Action="iam:*", Resource="*", Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})),
    ),
    "EMPTY_ARRAY_RESOURCE": ("identity", None, doc(st(Resource=[])), doc(BASE)),
    "INVALID_ARN_PREFIX": ("identity", None, doc(st(Resource="models/*")), doc(BASE)),
    "MISSING_ARN_FIELD": ("identity", None, doc(st(Resource="arn:aws:s3")), doc(BASE)),
    "INVALID_ARN_SERVICE_CASE": ("identity", None, doc(st(Resource="arn:aws:S3:::models/*")), doc(BASE)),
    "INVALID_ARN_RESOURCE": (
        "identity", None,
        doc(st(Action="kms:Decrypt", Resource="arn:aws:kms:eu-west-1:111122223333:keys/1234")),
        doc(st(Action="kms:Decrypt", Resource="arn:aws:kms:eu-west-1:111122223333:key/1234")),
    ),
    "RESOURCE_MISMATCH": ("identity", None, doc(st(Resource="arn:aws:s3:::models")), doc(BASE)),
    "REDUNDANT_RESOURCE": ("identity", None, doc(st(Resource=[OBJ, "arn:aws:s3:::models/a.bin"])), doc(st(Resource=[OBJ, "arn:aws:s3:::data/*"]))),
    "INVALID_CONDITION_OPERATOR": ("identity", None, doc(cond("StringEqual", "aws:SourceVpce", "vpce-1")), doc(cond("StringEquals", "aws:SourceVpce", "vpce-1"))),
    "EMPTY_OBJECT_CONDITION": ("identity", None, doc(st(Condition={})), doc(BASE)),
    "NULL_WITH_IF_EXISTS": ("identity", None, doc(cond("NullIfExists", "aws:SourceVpce", "true")), doc(cond("Null", "aws:SourceVpce", "true"))),
    "NULL_WITH_QUALIFIER": ("identity", None, doc(cond("ForAnyValue:Null", "aws:TagKeys", "true")), doc(cond("Null", "aws:TagKeys", "true"))),
    "INVALID_CONDITION_KEY_FORMAT": ("identity", None, doc(cond("IpAddress", "SourceIp", "203.0.113.0/24")), doc(cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))),
    "INVALID_GLOBAL_CONDITION_KEY": ("identity", None, doc(cond("StringEquals", "aws:SourceVpcId", "vpc-1")), doc(cond("StringEquals", "aws:SourceVpc", "vpc-1"))),
    "INVALID_SERVICE": ("identity", None, doc(cond("StringEquals", "s4:prefix", "a/")), doc(cond("StringEquals", "s3:prefix", "a/"))),
    "INVALID_SERVICE_CONDITION_KEY": ("identity", None, doc(cond("StringEquals", "s3:prefixes", "a/")), doc(cond("StringEquals", "s3:prefix", "a/"))),
    "TYPE_MISMATCH": ("identity", None, doc(cond("IpAddress", "aws:SourceVpce", "10.0.0.0/8")), doc(cond("StringEquals", "aws:SourceVpce", "vpce-1"))),
    "TYPE_MISMATCH_BOOLEAN": ("identity", None, doc(cond("Bool", "aws:SecureTransport", "yes")), doc(cond("Bool", "aws:SecureTransport", False))),
    "TYPE_MISMATCH_NUMBER": ("identity", None, doc(cond("NumericLessThan", "s3:TlsVersion", "1.2a")), doc(cond("NumericLessThan", "s3:TlsVersion", 1.2))),
    "TYPE_MISMATCH_DATE": ("identity", None, doc(cond("DateLessThan", "aws:CurrentTime", "tomorrow")), doc(cond("DateLessThan", "aws:CurrentTime", "2027-01-01T00:00:00Z"))),
    "TYPE_MISMATCH_IP_RANGE": ("identity", None, doc(cond("IpAddress", "aws:SourceIp", "203.0.113")), doc(cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))),
    "TYPE_MISMATCH_STRING": ("identity", None, doc(cond("BinaryEquals", "aws:UserAgent", "not base64!")), doc(cond("BinaryEquals", "aws:UserAgent", "aGVsbG8="))),
    "WILDCARD_WITHOUT_LIKE_OPERATOR": ("identity", None, doc(cond("StringEquals", "aws:SourceVpce", "vpce-*")), doc(cond("StringLike", "aws:SourceVpce", "vpce-*"))),
    "PRIVATE_IP_ADDRESS": ("identity", None, doc(cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8"])), doc(cond("IpAddress", "aws:VpcSourceIp", ["10.0.0.0/8"]))),
    "PRIVATE_NOT_IP_ADDRESS": ("identity", None, doc(cond("NotIpAddress", "aws:SourceIp", ["192.168.0.0/16"])), doc(cond("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24"]))),
    "EMPTY_ARRAY_CONDITION": ("identity", None, doc(cond("StringEquals", "aws:SourceVpce", [])), doc(cond("StringEquals", "aws:SourceVpce", ["vpce-1"]))),
    "EMPTY_ARRAY_CONDITION_FORALLVALUES": ("identity", None, doc(cond("ForAllValues:StringEquals", "aws:TagKeys", [])), doc(cond("ForAllValues:StringEquals", "aws:TagKeys", ["team"]))),
    "EMPTY_ARRAY_CONDITION_FORANYVALUE": ("identity", None, doc(cond("ForAnyValue:StringEquals", "aws:TagKeys", [])), doc(cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team"]))),
    "EMPTY_ARRAY_CONDITION_IFEXISTS": ("identity", None, doc(cond("StringEqualsIfExists", "aws:SourceVpce", [])), doc(cond("StringEqualsIfExists", "aws:SourceVpce", ["vpce-1"]))),
    "FORALLVALUES_WITH_SINGLE_VALUED_KEY": ("identity", None, doc(cond("ForAllValues:StringEquals", "aws:SourceVpce", ["vpce-1"])), doc(cond("ForAllValues:StringEquals", "aws:TagKeys", ["team"]))),
    # Role trust policies.
    "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE": ("resource", TRUST, doc(st(ACCOUNT, Resource="*")), doc(ACCOUNT)),
    "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL": (
        "resource", TRUST, doc(st(ACCOUNT, drop=("Principal",), Effect="Deny", NotPrincipal={"AWS": "111122223333"})),
        doc(st(ACCOUNT, Effect="Deny")),
    ),
    "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL": ("resource", TRUST, doc(st(ACCOUNT, Effect="Deny", Principal="*")),
                                                            doc(st(ACCOUNT, Effect="Deny", Principal={"AWS": "*"}))),
    "UNSUPPORTED_ACTION_IN_POLICY": ("resource", TRUST, doc(st(ACCOUNT, Action=["sts:AssumeRole", "s3:GetObject"])),
                                     doc(st(ACCOUNT, Action=["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]))),
    "INVALID_FEDERATED_PRINCIPAL_SYNTAX_IN_ROLE_TRUST_POLICY": (
        "resource", TRUST, doc(st(oidc(GITHUB), Principal={"Federated": "*"})), doc(st(oidc(GITHUB), Principal={"Federated": "accounts.google.com"})),
    ),
    "FEDERATED_PRINCIPAL_NOT_SUPPORTED": ("resource", "AWS::S3::Bucket", doc(st(RES, Principal={"Federated": "accounts.google.com"})), doc(RES)),
    "MISMATCHED_ACTION_FOR_PRINCIPAL": ("resource", TRUST, doc(st(ACCOUNT, Action="sts:AssumeRoleWithSAML")), doc(ACCOUNT)),
    "MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY": (
        "resource", TRUST, doc(st(ACCOUNT, Principal={"Service": "rolesanywhere.amazonaws.com"})),
        doc(st(ACCOUNT, Principal={"Service": "rolesanywhere.amazonaws.com"}, Action=["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])),
    ),
    "ROLE_TRUST_POLICY_ANY_AWS_PRINCIPAL": (
        "resource", TRUST, doc(st(ACCOUNT, Principal={"AWS": "*"})),
        doc(st(ACCOUNT, Principal={"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})),
    ),
    "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL": ("resource", TRUST, doc(oidc(GITHUB, sub=None, aud=False)), doc(oidc(GITHUB))),
    "MISSING_AUDIENCE_CONDITION_KEY_FOR_OIDC_PRINCIPAL": ("resource", TRUST, doc(oidc(IRSA, "system:serviceaccount:ml:trainer", aud=False)),
                                                          doc(oidc(IRSA, "system:serviceaccount:ml:trainer"))),
    "MISSING_GITHUB_REPO_CONDITION_KEY": ("resource", TRUST, doc(oidc(GITHUB, sub=None)), doc(oidc(GITHUB))),
    "GITHUB_SUB_WILDCARD_OWNER": ("resource", TRUST, doc(oidc(GITHUB, "repo:*", like=True)), doc(oidc(GITHUB, "repo:acme/*", like=True))),
    "SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED": (
        "resource", TRUST, doc(oidc(GITHUB, "repo:acme/llm:*", like=True)),
        doc(oidc(GITHUB, "repo:acme/llm:environment:production", like=True)),
    ),
    "EKS_SERVICE_ACCOUNT_NOT_PINNED": ("resource", TRUST, doc(oidc(IRSA, "system:serviceaccount:ml:*", like=True)),
                                       doc(oidc(IRSA, "system:serviceaccount:ml:trainer"))),
    # Size quotas: the passing policy is the same shape but small enough under that type's counting rule.
    "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA": ("identity", None, doc(st(Resource=big(260))), pretty(doc(st(Resource=big(200))))),
    "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA": ("resource", "AWS::ECR::Repository", doc(st(RES, Resource=big(400))), doc(st(RES, Resource=big(300)))),
    "POLICY_SIZE_EXCEEDS_SCP_QUOTA": ("scp", None, doc(st(SCP, Resource=big(210))), pretty(doc(st(SCP, Resource=big(150))))),
    "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA": (
        "resource", TRUST, doc(st(ACCOUNT, Principal={"AWS": accounts(60)})), pretty(doc(st(ACCOUNT, Principal={"AWS": accounts(45)}))),
    ),
    "POLICY_SIZE_EXCEEDS_RCP_QUOTA": ("rcp", None, doc(st(DENY_RCP, Resource=big(210))), pretty(doc(st(DENY_RCP, Resource=big(150))))),
}


def codes(policy, policy_type: str, resource_type: str | None) -> set[str]:
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return {f.issue_code for f in lint(text, policy_type, resource_type)}


def test_every_check_has_cases():
    assert set(REGISTRY) - set(CASES) == set()
    assert set(CASES) - set(REGISTRY) == set()


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_check_fires_on_failing_policy(check_id):
    policy_type, resource_type, failing, _ = CASES[check_id]
    assert check_id in codes(failing, policy_type, resource_type)


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_check_quiet_on_passing_policy(check_id):
    policy_type, resource_type, _, passing = CASES[check_id]
    assert check_id not in codes(passing, policy_type, resource_type)


def test_pretty_printed_passing_policies_really_are_over_the_raw_limit():
    # The identity and SCP passing cases only pass because whitespace is not counted.
    text = pretty(doc(st(Resource=big(200))))
    assert len(text) > SIZE_LIMITS[("identity", None)].limit


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_the_builds_selection_of_checks_keeps_exactly_the_findings_it_would_keep(check_id):
    """`slpc compile` runs only the checks whose findings it keeps (app.pipeline._KEPT): on
    every case, that gives the full lint's findings less the suggestions and size findings."""
    from slpc.app.pipeline import _KEPT, _MEASURED
    from slpc.verify.lint import FindingType

    policy_type, resource_type, failing, passing = CASES[check_id]
    for policy in (failing, passing):
        text = policy if isinstance(policy, str) else json.dumps(policy)
        full = [f for f in lint(text, policy_type, resource_type)
                if f.finding_type != FindingType.SUGGESTION and f.issue_code not in _MEASURED]
        assert lint(text, policy_type, resource_type, checks=_KEPT) == full
