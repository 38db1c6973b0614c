"""Access Analyzer ValidatePolicy through botocore's Stubber (moto does not implement it).

The Stubber checks every request slpc sends against the real API model; the
responses are shaped like the real API's, with pagination and each finding type.
"""

from __future__ import annotations

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from slpc.verify.live import analyzer  # noqa: E402
from test_validate_compare import example_artifacts, trust_artifacts  # noqa: E402

EXPECTED = {
    "iam-identity-policy": ("IDENTITY_POLICY", None),
    "s3-bucket-policy": ("RESOURCE_POLICY", "AWS::S3::Bucket"),
    "kms-key-policy": ("RESOURCE_POLICY", None),
    "ecr-repository-policy": ("RESOURCE_POLICY", None),
    "vpc-endpoint-policy": ("RESOURCE_POLICY", None),
    "iam-role-trust-policy": ("RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument"),
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


def test_trust_policies_are_validated_as_assume_role_policy_documents():
    """The Stubber holds each request to the API model, where the resource type is an enum."""
    arts = trust_artifacts()
    c = client()
    stub = Stubber(c)
    for a in arts:
        stub.add_response("validate_policy", {"findings": []}, {
            "policyDocument": a.text, "policyType": "RESOURCE_POLICY", "locale": "EN",
            "validatePolicyResourceType": "AWS::IAM::AssumeRolePolicyDocument"})
    with stub:
        assert analyzer.validate(c, arts) == []
        stub.assert_no_pending_responses()


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


# --------------------------------------------------------------------------- #
# Custom checks: CheckNoPublicAccess, CheckNoNewAccess, CheckAccessNotGranted

PASS = {"result": "PASS", "message": "ok", "reasons": []}


def test_public_access_checks_use_the_resource_type_of_each_kind_on_both_sides():
    arts = list(example_artifacts())
    deployed = {a.path: a.text.replace('"Sid"', '"Sid"') for a in arts}
    c = client()
    stub = Stubber(c)
    expected_public = {"s3-bucket-policy": "AWS::S3::Bucket", "kms-key-policy": "AWS::KMS::Key"}
    for a in arts:
        if a.kind in expected_public:
            for _side in (0, 1):
                stub.add_response("check_no_public_access", PASS,
                                  {"policyDocument": a.text, "resourceType": expected_public[a.kind]})
        if a.kind in ("iam-identity-policy", "s3-bucket-policy", "kms-key-policy", "ecr-repository-policy"):
            ptype = "IDENTITY_POLICY" if a.kind == "iam-identity-policy" else "RESOURCE_POLICY"
            stub.add_response("check_no_new_access", PASS, {"existingPolicyDocument": a.text,
                                                            "newPolicyDocument": a.text, "policyType": ptype})
    with stub:
        assert analyzer.custom_checks(c, arts, deployed) == []
        stub.assert_no_pending_responses()


def test_trust_policies_get_the_public_and_new_access_checks():
    a = next(a for a in trust_artifacts() if a.name == "deployer")
    deployed = a.text.replace("environment:production", "ref:refs/heads/dev")
    c = client()
    stub = Stubber(c)
    for text in (a.text, deployed):
        stub.add_response("check_no_public_access", PASS,
                          {"policyDocument": text, "resourceType": "AWS::IAM::AssumeRolePolicyDocument"})
    # what Access Analyzer answers for a deployed policy that admits a caller the compiled one does not
    stub.add_response("check_no_new_access", {
        "result": "FAIL", "message": "The modified permissions grant new access compared to your existing policy.",
        "reasons": [{"description": "New access in the statement with index: 0.", "statementIndex": 0,
                     "statementId": "GitHubAcmeLlmPlatformProduction"}]},
        {"existingPolicyDocument": a.text, "newPolicyDocument": deployed, "policyType": "RESOURCE_POLICY"})
    with stub:
        (f,) = analyzer.custom_checks(c, [a], {a.path: deployed})
        stub.assert_no_pending_responses()
    assert (f.kind, f.code, f.sids) == ("drift", "CheckNoNewAccess", ("GitHubAcmeLlmPlatformProduction",))


def test_custom_check_access_denied_is_cannot_verify():
    a = next(a for a in example_artifacts() if a.kind == "kms-key-policy")
    c = client()
    stub = Stubber(c)
    stub.add_client_error("check_no_public_access", "AccessDeniedException", "no", 403)
    stub.add_response("check_no_public_access", PASS)
    stub.add_client_error("check_no_new_access", "ThrottlingException", "slow", 400)
    with stub:
        found = analyzer.custom_checks(c, [a], {a.path: a.text})
    assert [(f.kind, f.message) for f in found] == [
        ("cannot-verify", "cannot verify: needs access-analyzer:CheckNoPublicAccess"),
        ("cannot-verify", "cannot verify: Access Analyzer CheckNoNewAccess failed with ThrottlingException")]


def test_data_access_is_chunked_to_the_api_limit_and_covers_everything():
    from slpc.app.pipeline import compile_text

    buckets = "\n".join(f'bucket b{i} {{\n  name "slpc-chunk-{i:03d}"\n  encrypt k\n  admins [a]\n}}'
                        for i in range(60))
    grants = "\n".join(f"allow r read b{i} from n" for i in range(60))
    spec = ('deployment "d" {\n  account "111122223333"\n  regions ["eu-central-1"]\n}\n'
            'network n {\n  endpoint s3 "vpce-00000000000000001"\n}\n'
            'role r "arn:aws:iam::111122223333:role/r"\nrole a "arn:aws:iam::111122223333:role/a"\n'
            'key k {\n  arn "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"\n'
            '  admins [a]\n}\n' + buckets + "\n" + grants + "\n")
    compiled = compile_text(spec, "chunk.slp")
    assert compiled.model is not None, [str(d) for d in compiled.diagnostics if d.is_error]
    access = analyzer.data_access(compiled.model)
    # the limits of the real API model (botocore does not enforce `max` itself)
    shape = client().meta.service_model.operation_model("CheckAccessNotGranted").input_shape.members["access"]
    limit = {k: v.metadata["max"] for k, v in shape.member.members.items()}
    assert shape.metadata["max"] == 1 and limit == {"actions": 100, "resources": 100}
    assert all(1 <= len(acts) <= limit["actions"] and 1 <= len(res) <= limit["resources"] for acts, res in access)
    s3 = [res for acts, res in access if acts[0].startswith("s3:")]
    assert len(s3) == 2 and sorted(r for chunk in s3 for r in chunk) == sorted(
        r for i in range(60) for r in (f"arn:aws:s3:::slpc-chunk-{i:03d}", f"arn:aws:s3:::slpc-chunk-{i:03d}/*"))
    # every chunk is one call, shaped as the API model wants (the Stubber checks the types)
    c = client()
    stub = Stubber(c)
    for _ in access:
        stub.add_response("check_access_not_granted", PASS)
    counted = []
    with stub:
        assert analyzer.scan_roles(c, [("arn:aws:iam::111122223333:role/x", "inline p", '{"Statement": []}')],
                                   access, counted.append) == []
        stub.assert_no_pending_responses()
    assert counted == [len(access)]


def test_analyzer_and_lint_findings_merge_with_their_sources():
    from slpc.verify.live.findings import ANALYZER, LINT, Finding, merge_policy_findings

    aa = [Finding(ANALYZER, "s3/b.json", "arn:aws:s3:::b", "aa words", source="access-analyzer",
                  code="REDUNDANT_ACTION", statement=2),
          Finding(ANALYZER, "s3/b.json", "arn:aws:s3:::b", "aa only", source="access-analyzer",
                  code="INVALID_ACTION", statement=0)]
    lint = [Finding(LINT, "s3/b.json", "arn:aws:s3:::b", "lint words", source="slpc-lint", code="REDUNDANT_ACTION",
                    statement=2),
            Finding(LINT, "s3/b.json", "arn:aws:s3:::b", "other statement", source="slpc-lint",
                    code="REDUNDANT_ACTION", statement=3)]
    merged = merge_policy_findings(aa, lint)
    assert [(f.message, f.to_json()["sources"]) for f in merged] == [
        ("aa words", ["access-analyzer", "slpc-lint"]), ("aa only", ["access-analyzer"]),
        ("other statement", ["slpc-lint"])]


def test_validate_policy_findings_carry_their_statement_index():
    a = example_artifacts()[0]
    c = client()
    stub = Stubber(c)
    stub.add_response("validate_policy", {"findings": [finding("WARNING", "REDUNDANT_ACTION", 3)]})
    with stub:
        (f,) = analyzer.validate(c, [a])
    assert f.statement == 3


def test_lint_findings_of_a_compiled_policy_have_the_lint_source():
    from dataclasses import replace

    from slpc.policy.document import Statement
    from slpc.verify.live.offline import lint_findings

    a = next(a for a in example_artifacts() if a.kind == "iam-identity-policy")
    doc = a.document
    bad = replace(a, document=type(doc)(doc.statements + (
        Statement("Allow", ("s3:GetObject", "s3:GetObject"), ("*",), sid="Dup"),), doc.version))
    found = lint_findings([bad])
    assert found and all(f.source == "slpc-lint" and f.artifact == a.path for f in found)
    assert any(f.statement == len(doc.statements) for f in found), found
