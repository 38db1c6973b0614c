"""`slpc validate` against a real local AWS endpoint (moto's server on 127.0.0.1).

Each test starts from an empty endpoint, creates the deployment of
`live_fixtures.LIVE_SPEC`, applies the compiled artifacts, then drifts one thing.
"""

from __future__ import annotations

import argparse
import io
import json
import logging

import pytest

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

import live_fixtures as L  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.stub import ANY  # noqa: E402

from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.app.io import IO  # noqa: E402
from slpc.app.commands import validate as command  # noqa: E402
from slpc.verify.live.fetch import Fetcher  # noqa: E402
from slpc.verify.live.validate import Validator  # noqa: E402

READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Validate", "Check")


@pytest.fixture(scope="module")
def server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = L.free_port()
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    yield f"http://127.0.0.1:{port}"
    srv.stop()


@pytest.fixture
def live(server):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST")).read()
    lv = L.create_resources(server)
    compiled = compile_text(lv.spec, "live.slp")
    assert compiled.ok, [str(d) for d in compiled.diagnostics if d.is_error]
    L.apply(lv, compiled.artifacts)
    lv.artifacts = compiled.artifacts
    return lv


class Recorder:
    """Every operation the validate session (or one client) issues."""

    def __init__(self, session_or_client):
        self.ops: list[str] = []
        events = getattr(session_or_client, "events", None) or session_or_client.meta.events
        events.register("before-parameter-build", self)  # also seen when a Stubber answers

    def __call__(self, model, **_):
        self.ops.append(model.name)


def validate(lv, session=None):
    session = session or L.session()
    f = Fetcher(session, region=L.REGION, endpoint_url=lv.url)
    return Validator(f, f.caller_account()).run(lv.artifacts)


def art(lv, path):
    return next(a for a in lv.artifacts if a.path == path)


def policy(lv, path) -> dict:
    return json.loads(art(lv, path).text)


def put_bucket_policy(lv, bucket: str, doc: dict, **dump) -> None:
    lv.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc, **dump))


def drifts(report, path):
    return [f for f in report.findings if f.artifact == path]


def args(lv, *extra, fmt="text", checks="drift", spec=None, account_profile=()):
    return argparse.Namespace(files=[spec], profile=None, region=L.REGION, endpoint_url=lv.url, format=fmt,
                              checks=checks, account_profile=list(account_profile))


@pytest.fixture
def spec_file(live, tmp_path):
    p = tmp_path / "live.slp"
    p.write_text(live.spec)
    return str(p)


# --------------------------------------------------------------------------- #
# In sync


def test_freshly_applied_deployment_is_in_sync(live):
    rep = validate(live)
    assert rep.findings == []
    kinds = {a.kind for a in live.artifacts if a.path in rep.checked}
    assert kinds >= {"s3-bucket-policy", "kms-key-policy", "ecr-repository-policy", "iam-identity-policy",
                     "vpc-endpoint-policy", "s3-versioning", "s3-object-lock", "s3-bucket-encryption",
                     "s3-public-access-block", "s3-ownership-controls", "apigateway-resource-policy", "scp", "rcp",
                     "cloudtrail-event-selectors", "eventbridge-rule", "guardduty-feature", "iam-role-trust-policy"}
    assert rep.skipped == [] and sorted(rep.checked) == sorted(a.path for a in live.artifacts)


def test_reordered_and_reformatted_policy_is_in_sync(live):
    doc = policy(live, "s3/weights.json")
    doc["Statement"] = list(reversed(doc["Statement"]))
    for st in doc["Statement"]:
        if isinstance(st.get("Action"), list) and len(st["Action"]) == 1:
            st["Action"] = st["Action"][0]  # a scalar instead of a one-element list
    put_bucket_policy(live, "live-llm-weights", doc, indent=None, separators=(",", ":"))
    assert validate(live).findings == []


def test_validate_is_strictly_read_only(live):
    session = L.session()
    rec = Recorder(session)
    live.client("s3").delete_bucket_policy(Bucket="live-llm-finetune")  # some drift too
    validate(live, session)
    assert rec.ops, "the recorder saw nothing"
    assert {"GetBucketPolicy", "GetKeyPolicy", "GetRepositoryPolicy", "GetRolePolicy", "GetRole",
            "DescribeVpcEndpoints", "GetBucketVersioning", "GetRestApi", "DescribeTrails", "GetEventSelectors",
            "DescribeRule", "ListDetectors", "GetDetector", "ListPolicies", "DescribePolicy"} <= set(rec.ops)
    assert [op for op in rec.ops if not op.startswith(READ_ONLY_PREFIXES)] == []


# --------------------------------------------------------------------------- #
# Drift of each kind, with a counterexample request


def test_removed_perimeter_deny_is_drift_with_counterexample(live):
    doc = policy(live, "s3/weights.json")
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideNetworks"]
    put_bucket_policy(live, "live-llm-weights", doc)
    found = drifts(validate(live), "s3/weights.json")
    assert found and all(f.kind == "drift" for f in found)
    f = next(f for f in found if "DenyOutsideNetworks" in f.sids)
    assert f.code == "extra-access"
    assert f.request["resource"].startswith("arn:aws:s3:::live-llm-weights")
    assert f.request["context"].get("aws:sourcevpce") != live.vpce


def test_added_principal_is_drift(live):
    intruder = "arn:aws:iam::123456789012:role/intruder"
    doc = policy(live, "s3/weights.json")
    for st in doc["Statement"]:
        for op, block in st.get("Condition", {}).items():
            if "aws:PrincipalArn" in block and op.startswith("ArnNotEquals"):
                arns = block["aws:PrincipalArn"]  # a single ARN is written as a scalar
                block["aws:PrincipalArn"] = ([arns] if isinstance(arns, str) else arns) + [intruder]
    put_bucket_policy(live, "live-llm-weights", doc)
    found = drifts(validate(live), "s3/weights.json")
    assert any(f.code == "extra-access" and f.request["principal"] == intruder for f in found), found


def test_widened_prefix_is_drift(live):
    text = art(live, "s3/weights.json").text.replace("live-llm-weights/checkpoints/*", "live-llm-weights/*")
    live.client("s3").put_bucket_policy(Bucket="live-llm-weights", Policy=text)
    found = drifts(validate(live), "s3/weights.json")
    assert any(f.code == "extra-access" and "/checkpoints/" not in f.request["resource"] for f in found), found


def test_deleted_bucket_policy_is_missing_and_drift(live):
    live.client("s3").delete_bucket_policy(Bucket="live-llm-finetune")
    found = drifts(validate(live), "s3/finetune_data.json")
    assert any(f.kind == "missing" and "no bucket policy" in f.message for f in found)
    assert any(f.kind == "drift" and f.request for f in found)


def test_deleted_role_policy_is_missing_access(live):
    live.client("iam").delete_role_policy(RoleName="llm-trainer", PolicyName="slpc")
    found = drifts(validate(live), "iam/123456789012/trainer.json")
    assert found and all(f.code == "missing-access" for f in found)
    assert found[0].request["principal"] == "arn:aws:iam::123456789012:role/llm-trainer"


def test_trust_policy_of_another_repository_is_drift_both_ways(live):
    """moto, like IAM, returns the trust policy URL-encoded; boto3 hands it back decoded."""
    path = "iam/123456789012/deployer.trust.json"
    text = art(live, path).text.replace("environment:production", "ref:refs/heads/dev")
    live.client("iam").update_assume_role_policy(RoleName="llm-ci-deployer", PolicyDocument=text)
    found = drifts(validate(live), path)
    assert [f.code for f in found] == ["extra-access", "missing-access"]
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    assert {(f.request["principal"], f.request["action"]) for f in found} == {
        (provider, "sts:AssumeRoleWithWebIdentity")}
    assert found[0].request["context"]["token.actions.githubusercontent.com:sub"] == \
        "repo:acme/llm-platform:ref:refs/heads/dev"


def test_trust_policy_widened_and_role_deleted(live):
    iam = live.client("iam")
    path = "iam/123456789012/security_admin.trust.json"
    wide = json.loads(art(live, path).text)
    del wide["Statement"][0]["Condition"]  # any principal of the account, not Identity Center's roles
    iam.update_assume_role_policy(RoleName="security-admin", PolicyDocument=json.dumps(wide))
    found = drifts(validate(live), path)
    assert found and {f.code for f in found} == {"extra-access"}
    assert all(f.request["action"] == "sts:AssumeRole" and "sso.amazonaws.com" not in f.request["principal"]
               for f in found)
    iam.delete_role_policy(RoleName="security-admin", PolicyName="slpc")
    iam.delete_role(RoleName="security-admin")
    found = drifts(validate(live), path)
    assert [(f.kind, f.code, f.message) for f in found] == [
        ("missing", "missing-resource", "iam-role-trust-policy: no such role")]


def test_extra_managed_policy_on_role_is_drift(live):
    iam = live.client("iam")
    arn = iam.create_policy(PolicyName="wide", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="llm-trainer", PolicyArn=arn)
    found = drifts(validate(live), "iam/123456789012/trainer.json")
    assert any(f.code == "extra-access" and f.request["action"] == "s3:GetObject" for f in found), found


def _split_into_managed(lv, path):
    """The artifacts with the role policy at `path` split into two managed policies,
    as slpc emits them for a role whose policy does not fit inline."""
    from dataclasses import replace as _replace

    from slpc.policy.document import PolicyDocument

    role = art(lv, path)
    sts = role.document.statements
    halves = (sts[: len(sts) // 2], sts[len(sts) // 2:])
    base = path.removesuffix(".json")
    managed = [_replace(role, kind="iam-managed-policy", path=f"{base}/managed-{i + 1}.json",
                        document=PolicyDocument(h)) for i, h in enumerate(halves)]
    return [a for a in lv.artifacts if a.path != path] + managed


def test_roles_managed_policies_are_compared_as_one_set(live):
    path = "iam/123456789012/trainer.json"
    artifacts = _split_into_managed(live, path)
    iam = live.client("iam")
    iam.delete_role_policy(RoleName="llm-trainer", PolicyName="slpc")
    L.apply(live, [a for a in artifacts if a.kind == "iam-managed-policy"])
    f = Fetcher(L.session(), region=L.REGION, endpoint_url=live.url)
    rep = Validator(f, f.caller_account()).run(artifacts)
    heads = [a.path for a in artifacts if a.kind == "iam-managed-policy"]
    assert rep.findings == [] and set(heads) <= set(rep.checked)

    second = iam.list_attached_role_policies(RoleName="llm-trainer")["AttachedPolicies"]
    iam.detach_role_policy(RoleName="llm-trainer", PolicyArn=second[-1]["PolicyArn"])
    rep = Validator(f, f.caller_account()).run(artifacts)
    found = drifts(rep, heads[0])
    assert found and all(f.code == "missing-access" for f in found), rep.findings
    assert rep.status(heads[1]) == "skipped" and heads[0] in dict(rep.skipped)[heads[1]]


def test_repository_policy_deleted_and_widened(live):
    ecr = live.client("ecr")
    doc = policy(live, "ecr/serving.json")
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideNetworks"]
    ecr.set_repository_policy(repositoryName="llm-serving", policyText=json.dumps(doc))
    found = drifts(validate(live), "ecr/serving.json")
    assert any(f.code == "extra-access" and "DenyOutsideNetworks" in f.sids for f in found), found
    ecr.delete_repository_policy(repositoryName="llm-serving")
    found = drifts(validate(live), "ecr/serving.json")
    assert any(f.kind == "missing" for f in found)


@pytest.fixture
def live_access_points(server):
    """The live deployment with its weights bucket reached through access points."""
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST")).read()
    lv = L.create_resources(server)
    lv.spec = lv.spec.replace("  breakglass  [breakglass]\n", "  breakglass  [breakglass]\n  access_points always\n", 1)
    compiled = compile_text(lv.spec, "live.slp")
    assert compiled.ok, [str(d) for d in compiled.diagnostics if d.is_error]
    L.apply(lv, compiled.artifacts)
    lv.artifacts = compiled.artifacts
    return lv


def test_access_point_policies_are_read_and_compared(live_access_points):
    lv = live_access_points
    aps = [a for a in lv.artifacts if a.kind == "s3-access-point-policy"]
    assert aps and not [f for a in aps for f in drifts(validate(lv), a.path)]
    trainer = next(a for a in aps if a.name == "weights-trainer")
    opened = policy(lv, trainer.path)
    opened["Statement"] = [s for s in opened["Statement"] if s.get("Sid") != "DenyOtherPrincipals"]
    lv.client("s3control").put_access_point_policy(AccountId=L.ACCOUNT, Name=trainer.name, Policy=json.dumps(opened))
    found = drifts(validate(lv), trainer.path)
    assert found and found[0].kind == "drift"
    lv.client("s3control").delete_access_point(AccountId=L.ACCOUNT, Name=trainer.name)
    assert [f.kind for f in drifts(validate(lv), trainer.path)] == ["missing"]


def test_key_policy_drift_and_disabled_key(live):
    kms = live.client("kms")
    doc = policy(live, "kms/model_key.json")
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyLockoutSafetyBypass"]
    kms.put_key_policy(KeyId=live.key_arn, PolicyName="default", Policy=json.dumps(doc))
    # moto's DisableKey fails on a key with this policy: answer DescribeKey as AWS would for a disabled key.
    session = L.session()
    session.events.register("before-call.kms.DescribeKey", _respond(
        200, {"KeyMetadata": {"KeyId": live.key_arn.rsplit("/", 1)[1], "Arn": live.key_arn, "KeyState": "Disabled",
                              "Enabled": False}}))
    found = drifts(validate(live, session), "kms/model_key.json")
    assert any("DenyLockoutSafetyBypass" in f.sids and f.request for f in found), found
    assert any(f.code == "key-state" and "Disabled" in f.message for f in found)


def test_endpoint_policy_opened_is_drift(live):
    path = f"vpce/{live.vpce}.json"
    live.client("ec2").modify_vpc_endpoint(VpcEndpointId=live.vpce, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}))
    found = drifts(validate(live), path)
    assert any(f.code == "extra-access" and f.request["context"]["aws:sourcevpce"] == live.vpce for f in found)


def test_versioning_suspended_and_object_lock_changed(live):
    s3 = live.client("s3")
    s3.put_bucket_versioning(Bucket="live-llm-finetune", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object_lock_configuration(Bucket="live-llm-weights", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    rep = validate(live)
    (v,) = drifts(rep, "s3/finetune_data/versioning.json")
    assert "Status is 'Suspended', the spec says 'Enabled'" in v.message
    (o,) = drifts(rep, "s3/weights/object-lock.json")
    assert "Days is 1, the spec says 30" in o.message


def test_deleted_public_access_block_is_missing(live):
    live.client("s3").delete_public_access_block(Bucket="live-llm-weights")
    (f,) = drifts(validate(live), "s3/weights/public-access-block.json")
    assert f.kind == "missing"


# --------------------------------------------------------------------------- #
# Faults: AccessDenied on one resource, malformed answers, the whole run


def _respond(status: int, parsed: dict):
    def handler(**_):
        return AWSResponse("http://stub", status, {}, None), parsed
    return handler


def test_access_denied_on_one_resource_is_a_finding_and_the_run_goes_on(live):
    session = L.session()
    session.events.register("before-call.s3.GetBucketPolicy", _respond(
        403, {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}))
    rep = validate(live, session)
    denied = [f for f in rep.findings if f.kind == "cannot-verify"]
    assert {f.artifact for f in denied} == {"s3/weights.json", "s3/finetune_data.json"}
    assert all(f.message == "cannot verify: needs s3:GetBucketPolicy" for f in denied)
    assert "kms/model_key.json" in rep.checked and "s3/weights/versioning.json" in rep.checked


def test_malformed_policy_from_the_api_is_a_finding(live):
    session = L.session()
    session.events.register("before-call.ecr.GetRepositoryPolicy", _respond(
        200, {"policyText": "{not json", "repositoryName": "llm-serving", "registryId": L.ACCOUNT}))
    rep = validate(live, session)
    (f,) = drifts(rep, "ecr/serving.json")
    assert f.kind == "cannot-verify" and "malformed" in f.message


def test_throttling_is_retried(live):
    session = L.session()
    calls = []

    class Raw:
        def stream(self, **_):
            yield b'{"__type":"ThrottlingException","message":"Rate exceeded"}'

    def throttle(request, **_):
        if "TrentService.GetKeyPolicy" in str(request.headers.get("X-Amz-Target", b"")):
            calls.append(1)
            if len(calls) <= 2:  # two throttled answers, then the real endpoint
                return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, Raw())
        return None
    session.events.register("before-send.kms", throttle)
    rep = validate(live, session)
    assert len(calls) == 3
    assert "kms/model_key.json" in rep.checked, rep.findings


# --------------------------------------------------------------------------- #
# The command


def test_command_in_sync_exit_0_text_json_sarif(live, spec_file):
    for fmt in ("text", "json", "sarif"):
        out, err = io.StringIO(), io.StringIO()
        code = command.run(args(live, fmt=fmt, spec=spec_file), IO(out, err), session=L.session())
        assert code == 0, (out.getvalue(), err.getvalue())
        if fmt == "json":
            doc = json.loads(out.getvalue())
            assert doc["in_sync"] is True and doc["findings"] == [] and "s3/weights.json" in doc["checked"]
        elif fmt == "sarif":
            assert json.loads(out.getvalue())["runs"][0]["results"] == []
        else:
            assert "finding" in out.getvalue()


def test_command_drift_exit_1_with_request_in_json_and_sarif(live, spec_file):
    live.client("s3").put_bucket_versioning(Bucket="live-llm-weights",
                                            VersioningConfiguration={"Status": "Suspended"})
    live.client("s3").delete_bucket_policy(Bucket="live-llm-weights")
    out = io.StringIO()
    assert command.run(args(live, fmt="json", spec=spec_file), IO(out, io.StringIO()), session=L.session()) == 1
    doc = json.loads(out.getvalue())
    assert any(f["artifact"] == "s3/weights.json" and "request" in f for f in doc["findings"])
    out = io.StringIO()
    assert command.run(args(live, fmt="sarif", spec=spec_file), IO(out, io.StringIO()), session=L.session()) == 1
    results = json.loads(out.getvalue())["runs"][0]["results"]
    assert any(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "s3/weights/versioning.json"
               for r in results)


def test_command_unreachable_endpoint_exit_2_one_line(live, spec_file):
    a = args(live, spec=spec_file)
    a.endpoint_url = f"http://127.0.0.1:{L.free_port()}"
    out, err = io.StringIO(), io.StringIO()
    session = boto3.Session(aws_access_key_id="AKIASECRETSHOULDNOTSHOW", aws_secret_access_key="s3cr3t-value",
                            region_name=L.REGION)
    assert command.run(a, IO(out, err), session=session) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0] and "Traceback" not in err.getvalue()
    assert "s3cr3t" not in err.getvalue() + out.getvalue() and "AKIASECRET" not in err.getvalue()


def test_command_no_credentials_exit_2(live, spec_file, monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    err = io.StringIO()
    assert command.run(args(live, spec=spec_file), IO(io.StringIO(), err)) == 2
    assert err.getvalue().count("\n") == 1 and "no AWS credentials" in err.getvalue()


def test_command_unknown_profile_and_bad_checks_exit_2(live, spec_file, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    a = args(live, spec=spec_file)
    a.profile = "nope"
    err = io.StringIO()
    assert command.run(a, IO(io.StringIO(), err)) == 2 and "profile not found" in err.getvalue()
    a = args(live, spec=spec_file, checks="drift,bogus")
    err = io.StringIO()
    assert command.run(a, IO(io.StringIO(), err)) == 2 and "bogus" in err.getvalue()


def test_command_spec_that_does_not_compile_exit_2(live, tmp_path):
    bad = tmp_path / "bad.slp"
    bad.write_text("allow nobody read nothing from nowhere\n")
    err = io.StringIO()
    assert command.run(args(live, spec=str(bad)), IO(io.StringIO(), err), session=L.session()) == 2
    assert "does not compile" in err.getvalue()


def _stubbed_analyzer(lv, answer, custom=None, deployed=True):
    """An Access Analyzer client answering ValidatePolicy with `answer(artifact)`,
    then every custom check (CheckNoPublicAccess, CheckNoNewAccess) with `custom`
    (default PASS), in the order slpc validate calls them; the checks of deployed
    policies only when the drift check runs (`deployed`)."""
    from botocore.stub import Stubber

    from slpc.verify.live.analyzer import NO_NEW_ACCESS_KINDS, PUBLIC_TYPES

    c = L.session().client("accessanalyzer", region_name=L.REGION)
    stub = Stubber(c)
    policies = [a for a in lv.artifacts if a.document is not None]
    for a in policies:
        stub.add_response("validate_policy", answer(a) if a.kind not in ("scp", "rcp") else {"findings": []})
    passed = {"result": "PASS", "message": "ok", "reasons": []}
    for a in policies:
        if a.kind in PUBLIC_TYPES:
            for _side in ("compiled", "deployed")[:2 if deployed else 1]:
                stub.add_response("check_no_public_access", (custom or {}).get(("public", a.path), passed),
                                  {"policyDocument": ANY, "resourceType": PUBLIC_TYPES[a.kind]})
        if a.kind in NO_NEW_ACCESS_KINDS and deployed:
            stub.add_response("check_no_new_access", (custom or {}).get(("new", a.path), passed),
                              {"existingPolicyDocument": a.text, "newPolicyDocument": ANY, "policyType": ANY})
    stub.activate()
    c.stub = stub
    return c


def test_command_merges_access_analyzer_findings(live, spec_file):
    suggestion = {"findings": [{"findingDetails": "d", "findingType": "SUGGESTION", "issueCode": "EMPTY_ARRAY_ACTION",
                                "learnMoreLink": "https://x", "locations": []}]}
    out = io.StringIO()
    c = _stubbed_analyzer(live, lambda a: suggestion)
    code = command.run(args(live, fmt="json", spec=spec_file, checks="drift,analyzer"), IO(out, io.StringIO()),
                       session=L.session(), analyzer_client=c)
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["in_sync"] is True  # SUGGESTIONs are notes
    assert {f["source"] for f in doc["findings"]} == {"access-analyzer"}
    error = {"findings": [{"findingDetails": "bad", "findingType": "ERROR", "issueCode": "INVALID_ACTION",
                           "learnMoreLink": "https://x", "locations": []}]}
    c = _stubbed_analyzer(live, lambda a: error if a.path == "s3/weights.json" else {"findings": []}, deployed=False)
    out = io.StringIO()
    code = command.run(args(live, spec=spec_file, checks="analyzer"), IO(out, io.StringIO()),
                       session=L.session(), analyzer_client=c)
    assert code == 1 and "s3/weights.json: error INVALID_ACTION (access-analyzer)" in out.getvalue()


# --------------------------------------------------------------------------- #
# Several accounts: --account-profile ACCOUNT=PROFILE (tests inject the sessions)

AUDITOR = f"iam/{L.OTHER_ACCOUNT}/auditor.json"


@pytest.fixture
def cross(live, tmp_path):
    """LIVE_SPEC plus a role of the second moto account, everything applied."""
    live.client("iam", L.OTHER_ACCOUNT).create_role(RoleName="llm-auditor", AssumeRolePolicyDocument=L.TRUST)
    live.spec += L.CROSS_ACCOUNT_ROLE
    compiled = compile_text(live.spec, "live.slp")
    assert compiled.ok, [str(d) for d in compiled.diagnostics if d.is_error]
    assert art_account(compiled.artifacts, AUDITOR) == L.OTHER_ACCOUNT
    L.apply(live, compiled.artifacts)
    live.artifacts = compiled.artifacts
    p = tmp_path / "cross.slp"
    p.write_text(live.spec)
    live.spec_file = str(p)
    return live


def art_account(artifacts, path):
    return next(a.account for a in artifacts if a.path == path)


def test_cross_account_role_is_read_with_its_account_session_and_in_sync(cross):
    default, other = L.session(), L.session(L.OTHER_ACCOUNT)
    rec_default, rec_other = Recorder(default), Recorder(other)
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args(cross, fmt="json", spec=cross.spec_file), IO(out, err), session=default,
                       sessions={L.OTHER_ACCOUNT: other})
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["in_sync"] is True, (doc["findings"], err.getvalue())
    assert AUDITOR in doc["checked"] and "iam/123456789012/trainer.json" in doc["checked"]
    # routing: the second account's session read the auditor role and nothing of the first account
    assert {"GetCallerIdentity", "ListRolePolicies", "GetRolePolicy"} <= set(rec_other.ops)
    assert not {"GetBucketPolicy", "GetKeyPolicy", "DescribeVpcEndpoints"} & set(rec_other.ops)
    assert rec_default.ops.count("ListRolePolicies") == 5  # the five roles of the first account
    assert [op for op in rec_default.ops + rec_other.ops if not op.startswith(READ_ONLY_PREFIXES)] == []


def test_cross_account_drift_is_found_in_the_other_account(cross):
    cross.client("iam", L.OTHER_ACCOUNT).delete_role_policy(RoleName="llm-auditor", PolicyName="slpc")
    f = Fetcher(L.session(), region=L.REGION, endpoint_url=cross.url)
    o = Fetcher(L.session(L.OTHER_ACCOUNT), region=L.REGION, endpoint_url=cross.url)
    rep = Validator(f, f.caller_account(), {L.OTHER_ACCOUNT: o}).run(cross.artifacts)
    found = drifts(rep, AUDITOR)
    assert found and all(f.code == "missing-access" for f in found), found
    assert [x for x in rep.findings if x.artifact != AUDITOR] == []


def test_account_without_credentials_cannot_be_verified(cross):
    out = io.StringIO()
    code = command.run(args(cross, fmt="json", spec=cross.spec_file), IO(out, io.StringIO()), session=L.session())
    doc = json.loads(out.getvalue())
    assert code == 1
    (f,) = doc["findings"]
    assert f["artifact"] == AUDITOR and f["kind"] == "cannot-verify" and f["code"] == "other-account"
    assert f["message"] == (f"cannot verify: no credentials for account {L.OTHER_ACCOUNT} "
                            f"(add --account-profile {L.OTHER_ACCOUNT}=PROFILE)")
    assert "s3/weights.json" in doc["checked"]


def test_session_for_the_wrong_account_exit_2(cross):
    err = io.StringIO()
    code = command.run(args(cross, spec=cross.spec_file), IO(io.StringIO(), err), session=L.session(),
                       sessions={L.OTHER_ACCOUNT: L.session()})
    assert code == 2 and err.getvalue().count("\n") == 1
    assert f"credentials are for account {L.ACCOUNT}, not {L.OTHER_ACCOUNT}" in err.getvalue()


@pytest.mark.parametrize("value, words", [
    ("210987654321", "expected ACCOUNT=PROFILE"),
    ("210987654321=", "expected ACCOUNT=PROFILE"),
    ("12345=audit", "12 digits"),
    ("21098765432x=audit", "12 digits"),
    ("=audit", "12 digits"),
])
def test_bad_account_profile_exit_2_one_line(live, spec_file, value, words):
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args(live, spec=spec_file, account_profile=[value]), IO(out, err), session=L.session())
    assert code == 2 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and words in err.getvalue() and "Traceback" not in err.getvalue()


def test_conflicting_and_unknown_account_profiles_exit_2(live, spec_file, monkeypatch, tmp_path):
    err = io.StringIO()
    a = args(live, spec=spec_file, account_profile=["210987654321=a", "210987654321=b"])
    assert command.run(a, IO(io.StringIO(), err), session=L.session()) == 2 and "two profiles" in err.getvalue()
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    err = io.StringIO()
    a = args(live, spec=spec_file, account_profile=["210987654321=nope"])
    assert command.run(a, IO(io.StringIO(), err), session=L.session()) == 2
    assert err.getvalue() == "slpc validate: --account-profile 210987654321=nope: profile not found: nope\n"


def test_account_profile_is_repeatable_on_the_command_line():
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    ns = p.parse_args(["x.slp", "--account-profile", "210987654321=audit", "--account-profile", "111122223333=b"])
    assert command.parse_account_profiles(ns.account_profile) == {"210987654321": "audit", "111122223333": "b"}
    assert p.parse_args(["x.slp"]).account_profile == []


def test_importing_the_command_does_not_import_boto3():
    import subprocess
    import sys

    code = ("import sys; import slpc.verify.live, slpc.app.commands.validate, slpc.verify.live.compare, "
            "slpc.verify.live.validate, slpc.verify.live.analyzer, slpc.verify.live.offline, slpc.verify.live.detection, "
            "slpc.verify.edges; "
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- #
# API Gateway, CloudTrail, EventBridge, GuardDuty, Organizations


def test_api_policy_without_perimeter_deny_and_deleted(live):
    a = next(a for a in live.artifacts if a.kind == "apigateway-resource-policy")
    api_id = a.target.rsplit("/", 1)[1]
    doc = json.loads(a.text)
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideNetworks"]
    ag = live.client("apigateway")
    ag.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy",
                                                            "value": json.dumps(doc)}])
    found = drifts(validate(live), a.path)
    assert any(f.kind == "drift" and "DenyOutsideNetworks" in f.sids and f.request["action"].startswith("execute-api:")
               for f in found), found
    ag.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy", "value": ""}])
    found = drifts(validate(live), a.path)
    assert any(f.kind == "missing" and "no resource policy" in f.message for f in found), found


def test_api_policy_as_the_real_api_returns_it_escaped_is_in_sync(live):
    a = next(a for a in live.artifacts if a.kind == "apigateway-resource-policy")
    escaped = json.dumps(json.loads(a.text), separators=(",", ":")).replace('"', '\\"').replace("/", "\\/")
    session = L.session()
    session.events.register("before-call.api-gateway.GetRestApi", _respond(
        200, {"id": a.target.rsplit("/", 1)[1], "name": "chat", "policy": escaped}))
    rep = validate(live, session)
    assert a.path in rep.checked and drifts(rep, a.path) == []


def test_trail_without_the_data_selector_is_drift_and_basic_selectors_count(live):
    ct = live.client("cloudtrail")
    sel = art(live, "audit/cloudtrail-event-selectors.json").settings["AdvancedEventSelectors"]
    management = [s for s in sel if "management" in s["Name"]]
    ct.put_event_selectors(TrailName=L.TRAIL, AdvancedEventSelectors=management)
    (f,) = drifts(validate(live), "audit/cloudtrail-event-selectors.json")
    data = next(s["Name"] for s in sel if s not in management)
    assert f.kind == "drift" and repr(data) in f.message and L.TRAIL in f.message
    # the same events selected with basic selectors: in sync
    ct.put_event_selectors(TrailName=L.TRAIL, EventSelectors=[{
        "ReadWriteType": "All", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::live-llm-weights/"]}]}])
    assert drifts(validate(live), "audit/cloudtrail-event-selectors.json") == []
    ct.put_event_selectors(TrailName=L.TRAIL, EventSelectors=[{"ReadWriteType": "WriteOnly",
                                                               "IncludeManagementEvents": True}])
    (f,) = drifts(validate(live), "audit/cloudtrail-event-selectors.json")
    assert "management" not in f.message and repr(data) in f.message


def test_eventbridge_rule_narrowed_disabled_and_deleted(live):
    a = next(a for a in live.artifacts if a.path == "audit/eventbridge-data-weights.json")
    pattern = json.loads(json.dumps(a.settings["EventPattern"]))
    dropped = pattern["detail"]["$or"][0]["eventName"].pop()
    pattern["detail"]["eventSource"].append("kms.amazonaws.com")
    ev = live.client("events")
    ev.put_rule(Name=a.settings["Name"], EventPattern=json.dumps(pattern), State="DISABLED")
    found = [f.message for f in drifts(validate(live), a.path)]
    assert any("State is DISABLED, the spec says ENABLED" in m for m in found), found
    assert any(m.startswith("eventbridge-rule: EventPattern.detail.$or lacks") and dropped in m for m in found), found
    assert any("EventPattern.detail.eventSource has extra \"kms.amazonaws.com\"" in m for m in found), found
    ev.delete_rule(Name=a.settings["Name"])
    (f,) = drifts(validate(live), a.path)
    assert f.kind == "missing" and "no such EventBridge rule" in f.message


def test_guardduty_feature_disabled_and_no_detector(live):
    gd = live.client("guardduty")
    (det,) = gd.list_detectors()["DetectorIds"]
    gd.update_detector(DetectorId=det, Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}])
    path = f"audit/guardduty-{L.REGION}.json"
    (f,) = drifts(validate(live), path)
    assert f.kind == "drift" and "S3_DATA_EVENTS is DISABLED, the spec says ENABLED" in f.message
    gd.delete_detector(DetectorId=det)
    (f,) = drifts(validate(live), path)
    assert f.kind == "missing" and "no GuardDuty detector" in f.message


def test_scp_without_a_statement_is_drift_and_org_policies_elsewhere_do_not_matter(live):
    org = live.client("organizations")
    scp = art(live, "org/scp-1.json")
    doc = json.loads(scp.text)
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyAuditTampering"]
    (pid,) = [p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
              if p["Name"] == "slpc-live-scp-1"]
    org.update_policy(PolicyId=pid, Content=json.dumps(doc))
    # another customer guardrail that denies more is not slpc's drift
    org.create_policy(Name="other-team", Description="x", Type="SERVICE_CONTROL_POLICY", Content=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]}))
    found = drifts(validate(live), "org/scp-1.json")
    assert found and all(f.code == "extra-access" for f in found)
    removed = next(s for s in json.loads(scp.text)["Statement"] if s.get("Sid") == "DenyAuditTampering")["Action"]
    assert any("DenyAuditTampering" in f.sids and f.request["action"] in removed for f in found), found


@pytest.mark.parametrize("code, words", [
    ("AWSOrganizationsNotInUseException", "cannot verify: AWS Organizations is not in use for this account"),
    ("AccessDeniedException", "cannot verify: needs organizations:ListPolicies"),
])
def test_organizations_unreadable_is_cannot_verify(live, code, words):
    session = L.session()
    session.events.register("before-call.organizations.ListPolicies", _respond(
        400, {"Error": {"Code": code, "Message": "x"}}))
    rep = validate(live, session)
    found = [f for f in rep.findings if f.artifact.startswith("org/")]
    guardrails = {a.path for a in live.artifacts if a.kind in ("scp", "rcp")}
    assert {f.artifact for f in found} == guardrails >= {"org/scp-1.json", "org/rcp-1.json"}
    assert all(f.kind == "cannot-verify" and f.message == words for f in found)
    assert "s3/weights.json" in rep.checked


# --------------------------------------------------------------------------- #
# Access Analyzer custom checks, --scan-roles, progress


FAIL_PUBLIC = {"result": "FAIL", "message": "public", "reasons": [
    {"description": "Public access granted in the following statement", "statementIndex": 3,
     "statementId": "Wide"}]}
FAIL_NEW = {"result": "FAIL", "message": "new access", "reasons": [
    {"description": "New access in the statement", "statementIndex": 0, "statementId": "Extra"}]}


def test_custom_checks_fail_are_findings_with_the_reasons(live, spec_file):
    c = _stubbed_analyzer(live, lambda a: {"findings": []},
                          custom={("public", "s3/weights.json"): FAIL_PUBLIC, ("new", "kms/model_key.json"): FAIL_NEW})
    rec = Recorder(c)
    out = io.StringIO()
    code = command.run(args(live, fmt="json", spec=spec_file, checks="drift,analyzer"), IO(out, io.StringIO()),
                       session=L.session(), analyzer_client=c)
    c.stub.assert_no_pending_responses()
    assert set(rec.ops) == {"ValidatePolicy", "CheckNoPublicAccess", "CheckNoNewAccess"}
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["in_sync"] is False
    by_code = {}
    for f in doc["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    assert [f["message"] for f in by_code["CheckNoPublicAccess"]] == [
        "the compiled policy grants public access: Public access granted in the following statement (Wide)",
        "the deployed policy grants public access: Public access granted in the following statement (Wide)"]
    (new,) = by_code["CheckNoNewAccess"]
    assert (new["artifact"], new["kind"], new["source"], new["severity"], new["sids"]) == (
        "kms/model_key.json", "drift", "access-analyzer", "error", ["Extra"])
    status = {r["artifact"]: r["status"] for r in doc["resources"]}
    assert status["kms/model_key.json"] == "drift" and status["s3/weights.json"] == "findings"
    assert status["s3/finetune_data.json"] == "in-sync"


def test_custom_checks_send_the_deployed_policy(live, spec_file):
    # drift on the bucket: CheckNoNewAccess receives the deployed text, compiled as existing
    doc = policy(live, "s3/weights.json")
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideNetworks"]
    put_bucket_policy(live, "live-llm-weights", doc)
    c = _stubbed_analyzer(live, lambda a: {"findings": []})
    sent = []
    c.meta.events.register("before-parameter-build.accessanalyzer.CheckNoNewAccess",
                           lambda params, **_: sent.append(params))
    command.run(args(live, fmt="json", spec=spec_file, checks="drift,analyzer"), IO(io.StringIO(), io.StringIO()),
                session=L.session(), analyzer_client=c)
    weights = next(p for p in sent if p["existingPolicyDocument"] == art(live, "s3/weights.json").text)
    assert "DenyOutsideNetworks" not in weights["newPolicyDocument"]
    assert json.loads(weights["newPolicyDocument"])["Statement"]


def test_scan_roles_counts_announces_chunks_and_reports(live, spec_file):
    from botocore.stub import Stubber

    from slpc.verify.live import analyzer

    iam = live.client("iam")
    for name in ("ci-other", "data-scientist"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=L.TRUST)
    wide = iam.create_policy(PolicyName="wide", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    for name in ("ci-other", "data-scientist"):
        iam.attach_role_policy(RoleName=name, PolicyArn=wide)  # one managed policy, checked once
    iam.put_role_policy(RoleName="data-scientist", PolicyName="notes", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    model = compile_text(live.spec, "live.slp").model
    access = analyzer.data_access(model)
    c = L.session().client("accessanalyzer", region_name=L.REGION)
    stub = Stubber(c)
    failing = {"result": "FAIL", "message": "granted", "reasons": [
        {"description": "One of the listed actions or resources in the statement is granted", "statementIndex": 0}]}
    for _policy in ("managed wide", "inline notes"):
        for actions, resources in access:
            stub.add_response("check_access_not_granted",
                              failing if _policy == "managed wide" and actions[0].startswith("s3:") else
                              {"result": "PASS", "message": "ok", "reasons": []},
                              {"policyDocument": ANY, "policyType": "IDENTITY_POLICY",
                               "access": [{"actions": actions, "resources": resources}]})
    stub.activate()
    session = L.session()
    rec, rec_aa = Recorder(session), Recorder(c)
    a = args(live, fmt="json", spec=spec_file, checks="drift")
    a.scan_roles = True
    out, err = io.StringIO(), io.StringIO()
    code = command.run(a, IO(out, err), session=session, analyzer_client=c)
    stub.assert_no_pending_responses()
    calls = 2 * len(access)
    assert f"--scan-roles makes {calls} Access Analyzer CheckAccessNotGranted call(s)" in err.getvalue()
    assert "AWS charges each call" in err.getvalue()
    found = [f for f in json.loads(out.getvalue())["findings"] if f["code"] == "CheckAccessNotGranted"]
    assert code == 1 and [f["resource"] for f in found] == ["arn:aws:iam::123456789012:role/ci-other"]
    assert found[0]["artifact"] == "iam/123456789012/ci-other"
    assert found[0]["message"].startswith("role not in the spec: managed arn:aws:iam::123456789012:policy/wide grants")
    assert "ListRoles" in rec.ops and [op for op in rec.ops if not op.startswith(READ_ONLY_PREFIXES)] == []
    assert set(rec_aa.ops) == {"CheckAccessNotGranted"}


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_only_when_stderr_is_a_terminal(live, spec_file):
    n = len(live.artifacts)
    err = _Terminal()
    assert command.run(args(live, spec=spec_file), IO(io.StringIO(), err), session=L.session()) == 0
    assert err.getvalue().endswith(f"\rslpc validate: {n}/{n} artifacts read\n")
    assert err.getvalue().count("\r") == n
    err = io.StringIO()
    assert command.run(args(live, spec=spec_file), IO(io.StringIO(), err), session=L.session()) == 0
    assert err.getvalue() == ""


def test_concurrent_reads_report_in_artifact_order(live):
    # drift in several resources: the findings come in artifact order, run after run
    live.client("s3").delete_bucket_policy(Bucket="live-llm-finetune")
    live.client("s3").delete_public_access_block(Bucket="live-llm-weights")
    live.client("iam").delete_role_policy(RoleName="llm-trainer", PolicyName="slpc")
    order = [a.path for a in live.artifacts]
    runs = [[(f.artifact, f.code, f.message) for f in validate(live).findings] for _ in range(2)]
    assert runs[0] == runs[1]
    paths = [p for p, _c, _m in runs[0]]
    assert paths == sorted(paths, key=order.index) and len(set(paths)) == 3


def test_scan_roles_access_denied_on_list_roles_is_a_finding(live, spec_file):
    from botocore.stub import Stubber

    session = L.session()
    session.events.register("before-call.iam.ListRoles", _respond(
        403, {"Error": {"Code": "AccessDenied", "Message": "no"}}))
    c = L.session().client("accessanalyzer", region_name=L.REGION)
    stub = Stubber(c)
    stub.activate()
    a = args(live, fmt="json", spec=spec_file, checks="drift")
    a.scan_roles = True
    out, err = io.StringIO(), io.StringIO()
    assert command.run(a, IO(out, err), session=session, analyzer_client=c) == 1
    (f,) = json.loads(out.getvalue())["findings"]
    assert (f["artifact"], f["kind"], f["message"]) == (
        f"iam/{L.ACCOUNT}", "cannot-verify", "cannot verify: needs iam:ListRoles")
    assert "makes 0 Access Analyzer CheckAccessNotGranted call(s)" in err.getvalue()


# --------------------------------------------------------------------------- #
# An API stage in front of a SageMaker endpoint, admitting a Cognito pool's users

GATEWAY = "iam/123456789012/chat_gateway.json"


@pytest.fixture
def gateway(live):
    """LIVE_SPEC plus a stage calling a SageMaker endpoint as its integration role and
    admitting a Cognito pool's users, everything applied."""
    live.client("iam").create_role(RoleName="llm-chat-gateway", AssumeRolePolicyDocument=L.TRUST)
    api = next(a.target.rsplit("/", 1)[1] for a in live.artifacts if a.kind == "apigateway-resource-policy")
    live.spec += L.API_STAGE_WITH_BACKEND.format(api=api)
    compiled = compile_text(live.spec, "live.slp")
    assert compiled.ok, [str(d) for d in compiled.diagnostics if d.is_error]
    L.apply(live, compiled.artifacts)
    live.artifacts = compiled.artifacts
    live.api = api
    return live


def test_integration_role_and_cognito_stage_are_in_sync(gateway):
    report = validate(gateway)
    assert report.findings == []
    assert GATEWAY in report.checked and "iam/123456789012/chat_gateway.trust.json" in report.checked


def test_integration_role_widened_to_every_endpoint_is_drift(gateway):
    doc = policy(gateway, GATEWAY)
    doc["Statement"][0]["Resource"] = ["arn:aws:sagemaker:eu-central-1:123456789012:endpoint/*"]
    gateway.client("iam").put_role_policy(RoleName="llm-chat-gateway", PolicyName="slpc",
                                          PolicyDocument=json.dumps(doc))
    assert drifts(validate(gateway), GATEWAY)


def test_cognito_stage_opened_to_every_network_is_drift(gateway):
    path = f"apigateway/{gateway.api}.json"
    doc = policy(gateway, path)
    doc["Statement"] = [dict(st, Condition={}) if st["Sid"] == "AllowChatWebPoolUsersViaEndpoint" else st
                        for st in doc["Statement"] if st["Sid"] not in ("DenyOutsideNetworks",
                                                                       "DenyChatWebOutsideItsUsersNetworks")]
    gateway.client("apigateway").update_rest_api(restApiId=gateway.api, patchOperations=[
        {"op": "replace", "path": "/policy", "value": json.dumps(doc)}])
    found = drifts(validate(gateway), path)
    assert found, "an API policy opened to every network must be drift"
