"""Access Analyzer ValidatePolicy through botocore's Stubber (moto does not implement it).

The Stubber checks every request slpc sends against the real API model; the
responses are shaped like the real API's, with pagination and each finding type.
"""

from __future__ import annotations

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from slpc.verify.live import analyzer  # noqa: E402
from test_validate_compare import example_artifacts  # noqa: E402

EXPECTED = {
    "iam-identity-policy": ("IDENTITY_POLICY", None),
    "s3-bucket-policy": ("RESOURCE_POLICY", "AWS::S3::Bucket"),
    "kms-key-policy": ("RESOURCE_POLICY", None),
    "ecr-repository-policy": ("RESOURCE_POLICY", None),
    "vpc-endpoint-policy": ("RESOURCE_POLICY", None),
}


def client():
    return boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-central-1").client(
        "accessanalyzer")


def finding(kind, code, index=0):
    return {"findingDetails": f"{code} details", "findingType": kind, "issueCode": code,
            "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html",
            "locations": [{"path": [{"value": "Statement"}, {"index": index}, {"value": "Action"}],
                           "span": {"start": {"line": 1, "column": 1, "offset": 0},
                                    "end": {"line": 1, "column": 5, "offset": 4}}}]}


def test_every_policy_gets_its_policy_type_and_resource_type_and_pagination_is_followed():
    arts = [a for a in example_artifacts()]
    c = client()
    stub = Stubber(c)
    pages = {}
    for i, a in enumerate(arts):
        ptype, rtype = EXPECTED[a.kind]
        params = {"policyDocument": a.text, "policyType": ptype, "locale": "EN"}
        if rtype:
            params["validatePolicyResourceType"] = rtype
        if i == 0:  # this one answers in three pages
            stub.add_response("validate_policy", {"findings": [finding("SUGGESTION", "EMPTY_OBJECT_PRINCIPAL")],
                                                  "nextToken": "t1"}, params)
            stub.add_response("validate_policy", {"findings": [finding("WARNING", "REDUNDANT_ACTION", 2)],
                                                  "nextToken": "t2"}, {**params, "nextToken": "t1"})
            stub.add_response("validate_policy", {"findings": [
                finding("ERROR", "INVALID_ACTION"), finding("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE")]},
                {**params, "nextToken": "t2"})
            pages[a.path] = 4
        else:
            stub.add_response("validate_policy", {"findings": []}, params)
    with stub:
        found = analyzer.validate(c, arts)
        stub.assert_no_pending_responses()
    assert [f.code for f in found] == ["EMPTY_OBJECT_PRINCIPAL", "REDUNDANT_ACTION", "INVALID_ACTION",
                                       "PASS_ROLE_WITH_STAR_IN_RESOURCE"]
    assert [f.level for f in found] == ["note", "warning", "error", "error"]
    assert all(f.source == "access-analyzer" and f.artifact == arts[0].path for f in found)
    assert "Statement[2].Action" in found[1].message


def test_settings_scp_and_rcp_kinds():
    assert analyzer.POLICY_TYPES["scp"] == ("SERVICE_CONTROL_POLICY", None)
    assert analyzer.POLICY_TYPES["rcp"] == ("RESOURCE_CONTROL_POLICY", None)
    for kind, (ptype, rtype) in EXPECTED.items():
        assert analyzer.POLICY_TYPES[kind] == (ptype, rtype)


def test_access_denied_is_a_cannot_verify_finding_and_the_run_goes_on():
    arts = list(example_artifacts())[:2]
    c = client()
    stub = Stubber(c)
    stub.add_client_error("validate_policy", "AccessDeniedException", "not authorized", 403)
    stub.add_response("validate_policy", {"findings": []})
    with stub:
        found = analyzer.validate(c, arts)
    assert [(f.kind, f.artifact, f.message) for f in found] == [
        ("cannot-verify", arts[0].path, "cannot verify: needs access-analyzer:ValidatePolicy")]
