"""The Terraform target (targets/terraform.py, docs/terraform.md).

The generated HCL is parsed back with python-hcl2, and every embedded
`jsonencode(...)` object is decoded with the HCL string rules (escapes, `$${`,
`%%{`) into a JSON value, which must equal the artifact's own JSON. When a
`terraform` binary is on the machine, its `fmt` and `console` check the layout and
the escaping too, and `validate` runs when an offline provider mirror exists; the
rest of the suite needs neither.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import hcl2
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from slpc.app.pipeline import compile_text
from slpc.targets import Artifact
from slpc.policy.document import PolicyDocument, Statement
from slpc.targets.terraform import (TerraformError, align_equals, hcl_expr, hcl_key, hcl_string, identifier,
                                    terraform_module)

from conftest import API_SPEC, EXAMPLE
from strategies import PROPERTY

OTHER = "444455556666"
POLICY_KINDS = {"iam-role-trust-policy", "iam-identity-policy", "s3-bucket-policy", "kms-key-policy",
                "ecr-repository-policy", "vpc-endpoint-policy", "apigateway-resource-policy", "scp", "rcp"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
PLUGIN_DIR = os.environ.get("SLPC_TF_PLUGIN_DIR", "/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary")
FLOW_ROLE = "slpc_flow_logs_delivery"  # the flow logs' delivery role, which slpc creates


# --------------------------------------------------------------------------- #
# Decoding python-hcl2's output back to JSON values


def decode_string(body: str) -> str:
    """The value of a quoted HCL string literal (without its quotes), by the HCL
    spec: backslash escapes, `$${` -> `${`, `%%{` -> `%{`; an unescaped `${` or `%{`
    would be a template directive, which no slpc literal may contain."""
    out, i = [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            m = body[i + 1]
            if m in simple:
                out.append(simple[m])
                i += 2
            elif m in "uU":
                width = 4 if m == "u" else 8
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
            else:
                raise AssertionError(f"bad escape in {body!r}")
        elif body.startswith(("$${", "%%{"), i):
            out.append(ch + "{")
            i += 3
        elif body.startswith(("${", "%{"), i):
            raise AssertionError(f"template sequence in {body!r}")
        else:
            assert ch not in '"\n', body
            out.append(ch)
            i += 1
    return "".join(out)


def literal(raw: str) -> str:
    assert raw.startswith('"') and raw.endswith('"') and len(raw) >= 2, raw
    return decode_string(raw[1:-1])


# python-hcl2's own keys in its output (no slpc document uses these names)
META = frozenset({"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"})


def value(v):
    """python-hcl2's serialisation of a literal expression -> the JSON value."""
    if isinstance(v, dict):
        return {(literal(k) if k.startswith('"') else k): value(x) for k, x in v.items() if k not in META}
    if isinstance(v, list):
        return [value(x) for x in v]
    if isinstance(v, str):
        return literal(v)
    return v


def jsonencode_arg(expr: str):
    """The JSON value of `${jsonencode(<literal>)}` as python-hcl2 returns it."""
    assert expr.startswith("${jsonencode(") and expr.endswith(")}"), expr[:60]
    parsed = hcl2.loads("x = " + expr[len("${jsonencode("):-2] + "\n",
                        serialization_options=hcl2.SerializationOptions(preserve_scientific_notation=False))
    return value(parsed["x"])


def resources(parsed: dict) -> dict[tuple[str, str], dict]:
    """(type, name) -> body, for every resource of a parsed file set."""
    out = {}
    for doc in parsed.values():
        for entry in doc.get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    key = (literal(rtype), literal(name))
                    assert key not in out, key
                    out[key] = body
    return out


def block(body: dict, name: str) -> dict:
    (inner,) = body[name]
    return inner


def provider(body: dict) -> str:
    return body.get("provider", "${aws}")[2:-1]


# --------------------------------------------------------------------------- #
# Fixtures


REGIONS_SPEC = '''deployment "multi" {
  account "111122223333"
  regions ["eu-central-1", "eu-west-1"]
}
network vpc {
  region "eu-west-1"
  endpoint s3 "vpce-00000000000000001"
}
role app "arn:aws:iam::111122223333:role/path/app"
role admin "arn:aws:iam::111122223333:role/admin"
key west_key {
  arn    "arn:aws:kms:eu-west-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [admin]
}
bucket data {
  name    "multi-data"
  encrypt west_key
  audit   data_events
  admins  [admin]
}
allow app read data "in/" from vpc
'''


# Roles whose trust the spec states (one with an IAM path and a session length, one that
# also trusts another account as a whole), and two whose trust it leaves unsaid.
TRUST_SPEC = '''deployment "trusting" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint s3 "vpce-00000000000000001"
}
role app "arn:aws:iam::111122223333:role/team/ml/app" {
  assumed_by service sagemaker
  passed_by  ci to sagemaker
  admins     [admin]
  session    4 hours
}
role ci "arn:aws:iam::111122223333:role/ci" {
  assumed_by github "acme/models" ref "refs/heads/main"
  admins     [admin]
}
role admin "arn:aws:iam::111122223333:role/admin" {
  assumed_by identity_center "Admin"
  assumed_by account "444455556666"
  admins     [admin]
}
role legacy "arn:aws:iam::111122223333:role/legacy"
role partner "arn:aws:iam::444455556666:role/partner"
key k {
  arn    "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [admin]
}
bucket data {
  name    "trusting-data"
  encrypt k
  admins  [admin]
}
allow app read data "in/" from vpc
allow legacy read data "in/" from vpc
allow partner read data "in/" from vpc
'''


def compiled(text: str, name: str = "spec.slp"):
    c = compile_text(text, name)
    assert c.ok, [d.message for d in c.diagnostics if d.is_error]
    return c


def _rendered(text: str) -> dict:
    """The resources of the spec's Terraform module, every policy in it checked."""
    c = compiled(text)
    parsed = {p: hcl2.loads(t) for p, t in terraform_module(c.model, c.artifacts).items()}
    check_policies(c, parsed)
    return resources(parsed)


@pytest.fixture(scope="module")
def example():
    c = compiled(EXAMPLE.read_text(), "example.slp")
    files = terraform_module(c.model, c.artifacts)
    parsed = {path: hcl2.loads(text) for path, text in files.items()}
    return c, files, parsed


def _embedded(body: dict, attr: str):
    return jsonencode_arg(body[attr])


# --------------------------------------------------------------------------- #
# The example: every artifact, and nothing else


def test_files_and_every_example_kind(example):
    c, files, _ = example
    assert all(p.startswith("terraform/") and p.endswith(".tf") for p in files)
    for f in ("versions.tf", "variables.tf", "outputs.tf", "providers.tf", "iam_roles.tf", "iam.tf", "s3.tf",
              "kms.tf", "ecr.tf", "vpce.tf", "network.tf", "flow_logs.tf", "audit.tf", "organizations.tf",
              "locals.tf"):
        assert f"terraform/{f}" in files
    kinds = {a.kind for a in c.artifacts}
    assert len(c.artifacts) == 53 and len(kinds) == 20


def _expected(art) -> tuple[str, str, str]:
    """(resource type, attribute naming the target, value) for a policy artifact."""
    last = art.target.rsplit("/", 1)[-1]
    return {
        "iam-role-trust-policy": ("aws_iam_role", "name", last),
        "iam-identity-policy": ("aws_iam_role_policy", "role", last),
        "s3-bucket-policy": ("aws_s3_bucket_policy", "bucket", art.target.rsplit(":", 1)[-1]),
        "kms-key-policy": ("aws_kms_key_policy", "key_id", art.target),
        "ecr-repository-policy": ("aws_ecr_repository_policy", "repository", last),
        "vpc-endpoint-policy": ("aws_vpc_endpoint_policy", "vpc_endpoint_id", art.target),
        "apigateway-resource-policy": ("aws_api_gateway_rest_api_policy", "rest_api_id", last),
        "scp": ("aws_organizations_policy", "name", None),
        "rcp": ("aws_organizations_policy", "name", None),
    }[art.kind]


POLICY_ATTRIBUTE = {"iam-role-trust-policy": "assume_role_policy"}


def role_name(res: dict, value: str) -> str:
    """A role argument's role name: a literal, or the name of the aws_iam_role it refers to."""
    ref = re.fullmatch(r"\$\{aws_iam_role\.(\w+)\.name\}", value)
    return literal(res[("aws_iam_role", ref.group(1))]["name"]) if ref else literal(value)


def check_policies(c, parsed) -> None:
    """Each policy artifact is in exactly one resource, whose embedded document is
    the artifact's JSON; no policy resource comes from nowhere."""
    res = resources(parsed)
    matched = set()
    for art in c.artifacts:
        if art.kind not in POLICY_KINDS:
            continue
        rtype, attr, target = _expected(art)
        want = json.loads(art.text)
        if art.kind in ("scp", "rcp"):
            hits = [k for k, b in res.items() if k[0] == rtype and literal(b["name"]).endswith("-" + art.name)]
            (key,) = hits
            assert literal(res[key]["type"]) == {"scp": "SERVICE_CONTROL_POLICY",
                                                 "rcp": "RESOURCE_CONTROL_POLICY"}[art.kind]
            assert _embedded(res[key], "content") == want
            assert provider(res[key]) == "aws.organizations"
        else:
            hits = [k for k, b in res.items() if k[0] == rtype and role_name(res, b[attr]) == target]
            (key,) = hits
            assert _embedded(res[key], POLICY_ATTRIBUTE.get(art.kind, "policy")) == want, art.path
        matched.add(key)
    for art in c.artifacts:  # the flow logs' delivery role: its two documents, as the artifact holds them
        if art.kind == "logs-flow-log-destination":
            role = art.settings["DeliveryRole"]
            assert _embedded(res[("aws_iam_role", FLOW_ROLE)], "assume_role_policy") == role["AssumeRolePolicyDocument"]
            assert _embedded(res[("aws_iam_role_policy", FLOW_ROLE)], "policy") == role["Policy"]
            matched |= {("aws_iam_role", FLOW_ROLE), ("aws_iam_role_policy", FLOW_ROLE)}
    policy_types = {_expected(a)[0] for a in c.artifacts if a.kind in POLICY_KINDS}
    assert {k for k in res if k[0] in policy_types} == matched


def test_every_policy_is_embedded_exactly(example):
    c, _, parsed = example
    check_policies(c, parsed)


def test_iam_policies_on_the_roles_by_reference(example):
    _, _, parsed = example
    res = resources(parsed)
    # every role of the example states its trust: the module manages it, its policy refers to it
    # (the flow logs' delivery role is slpc's own, not a spec role: test_flow_logs.py)
    policies = {n: b for (t, n), b in res.items() if t == "aws_iam_role_policy" and n != FLOW_ROLE}
    assert {n: b["role"] for n, b in policies.items()} == {n: f"${{aws_iam_role.{n}.name}}" for n in policies}
    assert {role_name(res, b["role"]) for b in policies.values()} == {
        "llm-trainer", "llm-inference", "llm-ci-deployer", "chat-frontend", "security-admin",
        "security-breakglass", "evaluation-admin", "model-evaluator"}
    assert not any(t in ("aws_s3_bucket", "aws_kms_key", "aws_ecr_repository", "aws_vpc_endpoint") for t, _ in res)


def test_roles_with_trust_are_managed_roles(example):
    c, files, parsed = example
    res = resources(parsed)
    roles = {n: b for (t, n), b in res.items() if t == "aws_iam_role" and n != FLOW_ROLE}
    trusts = [a for a in c.artifacts if a.kind == "iam-role-trust-policy"]
    assert sorted(roles) == sorted(a.name for a in trusts)
    for art in trusts:
        role, body = c.model.principals[art.name], roles[art.name]
        assert literal(body["name"]) == role.name_in_iam and literal(body["path"]) == "/"
        assert body.get("max_session_duration") == role.session_s
        assert block(body, "lifecycle")["ignore_changes"] == ["description", "permissions_boundary", "tags"]
        assert f"# {art.path}\n# import id: {role.name_in_iam}\n" in files["terraform/iam_roles.tf"]
    assert roles["deployer"]["max_session_duration"] == 3600 and "max_session_duration" not in roles["trainer"]
    assert provider(roles["evaluator"]) == f"aws.account_{OTHER}"
    assert "terraform import" in files["terraform/iam_roles.tf"]


def test_trust_policy_roles_paths_and_references():
    res = _rendered(TRUST_SPEC)
    app = res[("aws_iam_role", "app")]
    assert (literal(app["name"]), literal(app["path"]), app["max_session_duration"]) == ("app", "/team/ml/", 14400)
    assert res[("aws_iam_role_policy", "app")]["role"] == "${aws_iam_role.app.name}"
    # a role whose trust is unsaid is not managed: its policy names it, as before
    assert ("aws_iam_role", "legacy") not in res and literal(res[("aws_iam_role_policy", "legacy")]["role"]) == "legacy"
    assert literal(res[("aws_iam_role_policy", "partner")]["role"]) == "partner"


def test_checkov_skip_only_where_every_account_root_is_narrowed():
    """CKV_AWS_61 flags a trust policy naming an account root: skipped (with its reason)
    for Identity Center's roles, whose aws:PrincipalArn condition narrows the root, never
    for a role that trusts an account as a whole."""
    c = compiled(TRUST_SPEC)
    text = terraform_module(c.model, c.artifacts)["terraform/iam_roles.tf"]
    assert "checkov:skip" not in text  # admin also trusts account 444455556666 as a whole
    example = compiled(EXAMPLE.read_text(), "example.slp")
    text = terraform_module(example.model, example.artifacts)["terraform/iam_roles.tf"]
    skipped = re.findall(r'resource "aws_iam_role" "(\w+)" \{\n  #checkov:skip=CKV_AWS_61:', text)
    assert sorted(skipped) == ["breakglass", "evaluation_admin", "security_admin"]  # identity_center ways


def test_managed_policies_of_a_managed_role_refer_to_it():
    c = compiled(TRUST_SPEC)
    doc = PolicyDocument((Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",), sid="B"),))
    managed = Artifact("iam-managed-policy", c.model.principals["app"].arn, "111122223333",
                       "iam/111122223333/app/managed-1.json", "app", doc)
    legacy = Artifact("iam-managed-policy", c.model.principals["legacy"].arn, "111122223333",
                      "iam/111122223333/legacy/managed-1.json", "legacy", doc)
    files = terraform_module(c.model, list(c.artifacts) + [managed, legacy])
    res = resources({p: hcl2.loads(t) for p, t in files.items()})
    assert res[("aws_iam_role_policy_attachment", "app_managed_1")]["role"] == "${aws_iam_role.app.name}"
    assert literal(res[("aws_iam_role_policy_attachment", "legacy_managed_1")]["role"]) == "legacy"


def test_cross_account_artifacts_use_the_account_alias(example):
    c, files, parsed = example
    res = resources(parsed)
    evaluator = res[("aws_iam_role_policy", "evaluator")]
    assert provider(evaluator) == f"aws.account_{OTHER}"
    for art in c.artifacts:
        if art.kind == "vpc-endpoint-policy":
            body = next(b for (t, _), b in res.items()
                        if t == "aws_vpc_endpoint_policy" and literal(b["vpc_endpoint_id"]) == art.target)
            assert provider(body) == ("aws" if art.account == "111122223333" else f"aws.account_{art.account}")
    # every other resource of the deployment account uses the default provider
    for (t, n), body in res.items():
        if provider(body) != "aws":
            assert n in ("evaluator", "evaluation_admin") or t.startswith("aws_organizations") \
                or t == "aws_vpc_endpoint_policy" or n.startswith("eval_vpc_"), (t, n)
    (tf,) = parsed["terraform/versions.tf"]["terraform"]
    aws = tf["required_providers"][0]["aws"]
    assert literal(aws["source"]) == "hashicorp/aws"
    assert aws["configuration_aliases"] == [f"${{aws.account_{OTHER}}}", "${aws.organizations}"]


def test_each_provider_is_checked_against_its_account_and_region(example):
    _, files, parsed = example
    data = parsed["terraform/providers.tf"]["data"]
    checks = {}
    for entry in data:
        for dtype, named in entry.items():
            for name, body in named.items():
                cond = block(block(body, "lifecycle"), "postcondition")["condition"]
                checks[(literal(dtype), literal(name))] = (provider(body), cond)
    assert checks[("aws_caller_identity", f"account_{OTHER}")] == (
        f"aws.account_{OTHER}", f'${{self.account_id == "{OTHER}"}}')
    assert checks[("aws_region", f"account_{OTHER}")][1] == '${self.name == "eu-central-1"}'
    assert checks[("aws_caller_identity", "default")] == ("aws", '${self.account_id == "111122223333"}')
    assert checks[("aws_organizations_organization", "organizations")][1] == '${self.id == "o-a1b2c3d4e5"}'
    # and every resource that lands somewhere depends on its provider's checks
    for (t, n), body in resources(parsed).items():
        if t in ("aws_cloudwatch_event_target", "aws_organizations_policy_attachment",
                 "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule",
                 "aws_vpc_endpoint_security_group_association"):
            continue  # they reference a checked resource
        guard = provider(body).removeprefix("aws.") if provider(body) != "aws" else "default"
        deps = body["depends_on"]
        if guard == "organizations":
            assert deps == ["${data.aws_organizations_organization.organizations}"]
        else:
            assert deps[:2] == [f"${{data.aws_caller_identity.{guard}}}", f"${{data.aws_region.{guard}}}"], (t, n)


def test_bucket_settings_carry_the_settings_values(example):
    c, _, parsed = example
    res = resources(parsed)
    by = {(a.kind, a.name): a.settings for a in c.artifacts if a.settings is not None}
    for bucket in ("weights", "finetune_data"):
        enc = res[("aws_s3_bucket_server_side_encryption_configuration", bucket)]
        s = by[("s3-bucket-encryption", bucket)]
        assert literal(enc["bucket"]) == s["Bucket"]
        rules = enc["rule"]
        assert len(rules) == len(s["ServerSideEncryptionConfiguration"]["Rules"])
        for rule, want in zip(rules, s["ServerSideEncryptionConfiguration"]["Rules"]):
            default = block(rule, "apply_server_side_encryption_by_default")
            assert literal(default["sse_algorithm"]) == want["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            assert literal(default["kms_master_key_id"]) == want["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
            assert rule["bucket_key_enabled"] is want["BucketKeyEnabled"] is True

        pab = res[("aws_s3_bucket_public_access_block", bucket)]
        want = by[("s3-public-access-block", bucket)]["PublicAccessBlockConfiguration"]
        assert {k: pab[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                    "restrict_public_buckets")} == {
            "block_public_acls": want["BlockPublicAcls"], "block_public_policy": want["BlockPublicPolicy"],
            "ignore_public_acls": want["IgnorePublicAcls"], "restrict_public_buckets": want["RestrictPublicBuckets"]}

        ver = res[("aws_s3_bucket_versioning", bucket)]
        assert literal(block(ver, "versioning_configuration")["status"]) == \
            by[("s3-versioning", bucket)]["VersioningConfiguration"]["Status"] == "Enabled"

        own = res[("aws_s3_bucket_ownership_controls", bucket)]
        assert [literal(r["object_ownership"]) for r in own["rule"]] == \
            [r["ObjectOwnership"] for r in by[("s3-ownership-controls", bucket)]["OwnershipControls"]["Rules"]]

    lock = res[("aws_s3_bucket_object_lock_configuration", "weights")]
    want = by[("s3-object-lock", "weights")]["ObjectLockConfiguration"]
    assert literal(lock["object_lock_enabled"]) == want["ObjectLockEnabled"]
    retention = block(block(lock, "rule"), "default_retention")
    assert literal(retention["mode"]) == want["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert retention["days"] == want["Rule"]["DefaultRetention"]["Days"] == 365
    assert "${aws_s3_bucket_versioning.weights}" in lock["depends_on"]
    assert ("aws_s3_bucket_object_lock_configuration", "finetune_data") not in res


def test_eventbridge_rules_and_optional_sns_targets(example):
    c, _, parsed = example
    res = resources(parsed)
    rules = [a for a in c.artifacts if a.kind == "eventbridge-rule"]
    found = {literal(b["name"]): (n, b) for (t, n), b in res.items() if t == "aws_cloudwatch_event_rule"}
    assert set(found) == {a.settings["Name"] for a in rules}
    for art in rules:
        name, body = found[art.settings["Name"]]
        assert literal(body["description"]) == art.settings["Description"]
        assert literal(body["state"]) == art.settings["State"]
        assert _embedded(body, "event_pattern") == art.settings["EventPattern"]
        target = res[("aws_cloudwatch_event_target", name)]
        assert target["count"] == "${var.alert_sns_topic_arn_eu_central_1 == null ? 0 : 1}"
        assert target["arn"] == "${var.alert_sns_topic_arn_eu_central_1}"
        assert target["rule"] == f"${{aws_cloudwatch_event_rule.{name}.name}}"
    variables = {literal(k): v for e in parsed["terraform/variables.tf"]["variable"] for k, v in e.items()}
    assert variables["alert_sns_topic_arn_eu_central_1"]["default"] is None
    assert literal(variables["alert_sns_topic_arn_eu_central_1"]["description"])


def test_guardduty_feature_per_region_detector_variable(example):
    c, _, parsed = example
    res = resources(parsed)
    (art,) = [a for a in c.artifacts if a.kind == "guardduty-feature"]
    (feature,) = art.settings["Features"]
    body = res[("aws_guardduty_detector_feature", "s3_data_events_eu_central_1")]
    assert body["detector_id"] == "${var.guardduty_detector_id_eu_central_1}"
    assert literal(body["name"]) == feature["Name"] and literal(body["status"]) == feature["Status"]
    variables = {literal(k): v for e in parsed["terraform/variables.tf"]["variable"] for k, v in e.items()}
    assert "default" not in variables["guardduty_detector_id_eu_central_1"]  # required
    assert "default" not in variables["organization_target_id"]


def test_cloudtrail_selectors_are_a_local_and_an_output(example):
    c, _, parsed = example
    (art,) = [a for a in c.artifacts if a.kind == "cloudtrail-event-selectors"]
    (loc,) = parsed["terraform/locals.tf"]["locals"]
    got = value(loc["cloudtrail_advanced_event_selectors"])
    names = {"field": "Field", "equals": "Equals", "not_equals": "NotEquals", "starts_with": "StartsWith",
             "not_starts_with": "NotStartsWith", "ends_with": "EndsWith", "not_ends_with": "NotEndsWith"}
    back = [{"Name": s["name"],
             "FieldSelectors": [{names[k]: v for k, v in f.items() if v is not None} for f in s["field_selector"]]}
            for s in got]
    assert back == art.settings["AdvancedEventSelectors"]
    outputs = {literal(k): v for e in parsed["terraform/outputs.tf"]["output"] for k, v in e.items()}
    assert outputs["cloudtrail_advanced_event_selectors"]["value"] == "${local.cloudtrail_advanced_event_selectors}"
    assert not any(t == "aws_cloudtrail" for t, _ in resources(parsed))


def test_organizations_policies_attach_to_the_target_variable(example):
    _, _, parsed = example
    res = resources(parsed)
    for name in ("scp_1", "rcp_1"):
        att = res[("aws_organizations_policy_attachment", name)]
        assert att["policy_id"] == f"${{aws_organizations_policy.{name}.id}}"
        assert att["target_id"] == "${var.organization_target_id}"
        assert provider(att) == "aws.organizations"


def test_resource_names_are_identifiers_and_stable(example):
    c, files, parsed = example
    res = resources(parsed)
    assert all(IDENT.match(n) for _, n in res)
    assert ("aws_vpc_endpoint_policy", "prod_vpc_ecr_api") in res
    assert ("aws_cloudwatch_event_rule", "perimeter_s3_eu_central_1") in res
    assert ("aws_kms_key_policy", "model_key") in res


def test_deterministic_whatever_the_artifact_order(example):
    c, files, _ = example
    shuffled = list(c.artifacts)
    random.Random(7).shuffle(shuffled)
    assert terraform_module(c.model, shuffled) == files
    again = compiled(EXAMPLE.read_text(), "example.slp")
    assert terraform_module(again.model, again.artifacts) == files


def test_layout_matches_terraform_fmt_rules(example):
    _, files, _ = example
    for path, text in files.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        assert "\t" not in text and "\r" not in text
        for line in text.split("\n"):
            assert line == line.rstrip(), (path, line)
            assert (len(line) - len(line.lstrip(" "))) % 2 == 0, (path, line)
        assert align_equals(text) == text  # already aligned


# --------------------------------------------------------------------------- #
# Other specs: API Gateway, several regions, other accounts


def test_api_gateway_policy_and_cross_account_identity():
    res = _rendered(API_SPEC)
    api = res[("aws_api_gateway_rest_api_policy", "api_a1b2c3d4e5")]
    assert literal(api["rest_api_id"]) == "a1b2c3d4e5" and provider(api) == "aws"
    assert provider(res[("aws_iam_role_policy", "partner")]) == f"aws.account_{OTHER}"


def test_regions_other_than_the_first_use_region_aliases():
    c = compiled(REGIONS_SPEC)
    parsed = {p: hcl2.loads(t) for p, t in terraform_module(c.model, c.artifacts).items()}
    check_policies(c, parsed)
    res = resources(parsed)
    # the bucket follows its key into eu-west-1
    assert provider(res[("aws_s3_bucket_policy", "data")]) == "aws.region_eu_west_1"
    assert provider(res[("aws_kms_key_policy", "west_key")]) == "aws.region_eu_west_1"
    assert provider(res[("aws_s3_bucket_versioning", "data")]) == "aws.region_eu_west_1"
    assert literal(res[("aws_iam_role_policy", "app")]["role"]) == "app"  # last path segment
    assert provider(res[("aws_iam_role_policy", "app")]) == "aws"
    assert provider(res[("aws_guardduty_detector_feature", "s3_data_events_eu_west_1")]) == "aws.region_eu_west_1"
    assert provider(res[("aws_guardduty_detector_feature", "s3_data_events_eu_central_1")]) == "aws"
    assert provider(res[("aws_cloudwatch_event_rule", "perimeter_s3_eu_west_1")]) == "aws.region_eu_west_1"
    variables = {literal(k) for e in parsed["terraform/variables.tf"]["variable"] for k in e}
    assert {"guardduty_detector_id_eu_central_1", "guardduty_detector_id_eu_west_1",
            "alert_sns_topic_arn_eu_central_1", "alert_sns_topic_arn_eu_west_1"} <= variables
    assert "organization_target_id" in variables  # guardrails on by default
    data = {(literal(t), literal(n)): b for e in parsed["terraform/providers.tf"]["data"]
            for t, named in e.items() for n, b in named.items()}
    assert block(block(data[("aws_region", "region_eu_west_1")], "lifecycle"),
                 "postcondition")["condition"] == '${self.name == "eu-west-1"}'
    # no organization id in the spec: nothing to check it against
    assert ("aws_organizations_organization", "organizations") not in data


# --------------------------------------------------------------------------- #
# Policy variables: ${...} and %{...} must reach AWS literally


def synthetic(model, resource: str) -> Artifact:
    doc = PolicyDocument((Statement("Allow", actions=("s3:GetObject",), resources=(resource,), sid="Home"),))
    return Artifact("iam-identity-policy", "arn:aws:iam::111122223333:role/home-user", "111122223333",
                    "iam/111122223333/home.json", "home", doc)


def test_policy_variables_are_escaped():
    c = compiled(EXAMPLE.read_text(), "example.slp")
    resource = 'arn:aws:s3:::acme-llm-weights/home/${aws:username}/%{x}/$${y}/"q"\\'
    art = synthetic(c.model, resource)
    files = terraform_module(c.model, [art])
    text = files["terraform/iam.tf"]
    assert "/home/$${aws:username}/%%{x}/$$${y}/\\\"q\\\"\\\\\"" in text
    assert "${aws:username}" not in text.replace("$${aws:username}", "")
    (body,) = [b for (t, _), b in resources({"iam": hcl2.loads(text)}).items()]
    assert _embedded(body, "policy") == json.loads(art.text)
    assert _embedded(body, "policy")["Statement"][0]["Resource"] == [resource]


def test_non_nfc_text_is_refused():
    with pytest.raises(TerraformError, match="NFC"):
        hcl_string("e\u0301")
    c = compiled(EXAMPLE.read_text(), "example.slp")
    with pytest.raises(TerraformError, match="NFC"):
        terraform_module(c.model, [synthetic(c.model, "arn:aws:s3:::b/cafe\u0301/*")])


def test_unknown_kind_is_refused():
    c = compiled(EXAMPLE.read_text(), "example.slp")
    with pytest.raises(TerraformError, match="no Terraform resource"):
        terraform_module(c.model, [Artifact("mystery", "x", "111122223333", "m/x.json", "x", settings={})])


# --------------------------------------------------------------------------- #
# The JSON -> HCL function


@pytest.mark.parametrize("s, hcl", [
    ("plain", '"plain"'),
    ("${aws:username}", '"$${aws:username}"'),
    ("%{if}", '"%%{if}"'),
    ("$${x}", '"$$${x}"'),
    ("$ {", '"$ {"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("line\nnext\ttab\r", '"line\\nnext\\ttab\\r"'),
    ("\x00\x1f\u200b\u2028", '"\\u0000\\u001F\\u200B\\u2028"'),
    ("é 😀 日本", '"é 😀 日本"'),
])
def test_hcl_string(s, hcl):
    assert hcl_string(s) == hcl
    assert decode_string(hcl[1:-1]) == s


def test_hcl_keys():
    assert hcl_key("Version") == "Version"
    assert hcl_key("aws:SourceVpce") == '"aws:SourceVpce"'
    assert hcl_key("detail-type") == '"detail-type"'
    assert hcl_key("$or") == '"$or"'
    for word in ("for", "null", "true", "false", "in", "if"):
        assert hcl_key(word) == f'"{word}"'


def test_hcl_expr_layout():
    assert hcl_expr({}) == "{}" and hcl_expr([]) == "[]" and hcl_expr(["a"]) == '["a"]'
    assert hcl_expr({"b": [1, 2], "a": None}, 1) == '{\n    a = null\n    b = [\n      1,\n      2,\n    ]\n  }'
    with pytest.raises(TerraformError):
        hcl_expr(float("nan"))
    with pytest.raises(TerraformError):
        hcl_expr({1: "x"})


def test_align_equals_like_terraform_fmt():
    src = 'a {\n  x = 1\n  long_name = 2\n  m = {\n    k = "="\n  }\n  y = 3\n  cond = a == b\n}\n'
    assert align_equals(src) == ('a {\n  x         = 1\n  long_name = 2\n  m = {\n    k = "="\n  }\n'
                                 '  y    = 3\n  cond = a == b\n}\n')


def test_identifier():
    assert identifier("prod_vpc.ecr.api") == "prod_vpc_ecr_api"
    assert identifier("a-b") == "a_b"
    assert identifier("1abc") == "_1abc"
    assert identifier("S3_DATA_EVENTS", "eu-west-1") == "s3_data_events_eu_west_1"


nfc_text = st.text().map(lambda s: unicodedata.normalize("NFC", s))
special = st.sampled_from(["${", "%{", "$${", "$$", "%%{", "\\", '"', "\\n", "\n", "}", "{", "é", "\u2028", "#", "//"])
strings = st.one_of(nfc_text, st.lists(st.one_of(special, nfc_text), max_size=6).map("".join)).map(
    lambda s: unicodedata.normalize("NFC", s))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63)
    | st.floats(allow_nan=False, allow_infinity=False) | strings,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(strings, children, max_size=5),
    max_leaves=25)


def _hcl2_reads(v) -> bool:
    """python-hcl2 (8.x) lexes an escaped `$${` or `%%{` only when a `}` follows it in
    the same string; Terraform has no such limit (its evaluation of unclosed ones is
    tested with the terraform binary below). Values outside that subset are skipped."""
    if isinstance(v, dict):
        return all(k not in META and _hcl2_reads(k) and _hcl2_reads(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_hcl2_reads(x) for x in v)
    if isinstance(v, str):
        return all("}" in v[m.end():] for m in re.finditer(r"[$%]\{", v))
    return True


def _same(a, b) -> bool:
    """JSON equality where 1 == 1.0 does not hide a type change, except float/int of equal value
    (HCL has one number type)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or a is None or isinstance(a, str):
        return type(a) is type(b) and a == b
    return isinstance(b, (int, float)) and not isinstance(b, bool) and a == b


@pytest.mark.property
@PROPERTY
@given(json_values, st.integers(min_value=0, max_value=3))
def test_property_hcl_expr_round_trips_through_python_hcl2(v, level):
    assume(_hcl2_reads(v))
    expr = hcl_expr(v, level)
    options = hcl2.SerializationOptions(preserve_scientific_notation=False)
    direct = hcl2.loads(f"x = {expr}\n", serialization_options=options)["x"]
    assert _same(v, value(direct))
    wrapped = hcl2.loads(f"x = jsonencode({expr})\n", serialization_options=options)["x"]
    assert _same(v, jsonencode_arg(wrapped))
    assert align_equals(f"x = {expr}\n").count("\n") == f"x = {expr}\n".count("\n")


# --------------------------------------------------------------------------- #
# With a terraform binary: its own formatter and evaluator agree


def _terraform(args, cwd, stdin=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return subprocess.run([TERRAFORM, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env,
                          timeout=300)


@needs_terraform
def test_terraform_fmt_changes_nothing(example, tmp_path):
    _, files, _ = example
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    r = _terraform(["fmt", "-check", "-diff", "-recursive"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_terraform
def test_terraform_evaluates_every_policy_to_the_artifact(example, tmp_path):
    """Terraform's own HCL reading of hcl_expr, including `$${`, is the artifact's JSON."""
    c, _, _ = example
    values = {f"a{i}": json.loads(a.text) for i, a in enumerate(c.artifacts)}
    values["variables"] = json.loads(synthetic(c.model, "arn:aws:s3:::b/${aws:username}/%{x}/$${y}/\\\"/é/${/%{").text)
    body = "\n".join(f"  {k} = {hcl_expr(v, 1)}" for k, v in values.items())
    (tmp_path / "main.tf").write_text(f"locals {{\n  all = {{\n{body}\n  }}\n}}\n")
    r = _terraform(["console"], tmp_path, stdin="base64encode(jsonencode(local.all))\n")
    assert r.returncode == 0, r.stderr
    out = json.loads(base64.b64decode(r.stdout.strip().strip('"')))
    assert out == values


@needs_terraform
@pytest.mark.skipif(not Path(PLUGIN_DIR).is_dir(), reason="no offline provider mirror (SLPC_TF_PLUGIN_DIR)")
def test_terraform_validate_with_offline_provider(example, tmp_path):
    _, files, _ = example
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    (tmp_path / "root.tf").write_text(f'''provider "aws" {{
  region = "eu-central-1"
}}

provider "aws" {{
  alias  = "evaluator"
  region = "eu-central-1"
}}

provider "aws" {{
  alias  = "management"
  region = "us-east-1"
}}

module "slpc" {{
  source = "./terraform"
  providers = {{
    aws                      = aws
    aws.account_{OTHER} = aws.evaluator
    aws.organizations        = aws.management
  }}
  organization_target_id             = "ou-ab12-cdef3456"
  guardduty_detector_id_eu_central_1 = "12abc34d567e8fa901bc2d34e56789f0"
}}
''')
    r = _terraform(["init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"], tmp_path)
    if r.returncode != 0:
        pytest.skip("terraform init cannot use the offline mirror: " + r.stderr[-300:])
    r = _terraform(["validate", "-no-color"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
