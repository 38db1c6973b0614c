"""The VPC flow logs slpc writes (compiler/flow_logs.py, targets/flow_logs.py): one bad input
per code, with location and caret; the artifacts' documented fields, trust and permissions; the
key policy admits CloudWatch Logs for the flow-log group's encryption context and nothing else
(the evaluator, as a property over names, regions and services); the prover refutes the
mutants that widen or break that admission; both IaC targets carry the artifacts' values."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_text
from slpc.compiler import flow_logs as F
from slpc.policy.document import Condition
from slpc.targets.iac import render
from slpc.verify.deployment import Deployment
from slpc.verify.lint import lint
from slpc.verify.prove.properties import REFUTED, prove
from slpc.verify.prove.world import World
from conftest import EXAMPLE
from test_diagnostics import caret_under, located, run
from test_networks import two_regions

EX = EXAMPLE.read_text()
LINE = '  flow_logs "/slpc/acme-llm/vpc-flow-logs" key model_key retain 365 days\n'
GROUP = "/slpc/acme-llm/vpc-flow-logs"
GROUP_ARN = f"arn:aws:logs:eu-central-1:111122223333:log-group:{GROUP}"
KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
KEY_PATH, DEST, PROD = "kms/model_key.json", "logs/flow-logs.json", "network/prod_vpc/flow-log.json"
LOGS = "logs.eu-central-1.amazonaws.com"


def flow(text: str) -> str:
    return EX.replace(LINE, f"  flow_logs {text}\n")


@pytest.fixture(scope="module")
def example():
    c = compile_text(EX, "example.slp")
    assert c.ok
    return c


def _arts(c):
    return {a.path: a for a in c.artifacts}


# --------------------------------------------------------------------------- #
# Bad input

CASES = [  # (code, spec, text under the caret, words in the message or hint)
    ("E455", flow('"/slpc/acme llm" key model_key'), '"/slpc/acme llm"', "not a log group name"),
    ("E455", flow('"aws/vpc" key model_key'), '"aws/vpc"', "reserved for AWS"),
    ("E455", flow(f'"{GROUP}" key model_key retain 100 days'), "100 days", "did you mean `retain 90 days`"),
    ("E455", flow(f'"{GROUP}" key model_key retain 2 hours'), "2 hours", "retention period"),
    ("E456", two_regions(EX).replace('network eval_vpc {\n  account "444455556666"\n', "network eval_vpc {\n"),
     "model_key", "eval_vpc` is in eu-west-1"),
    ("E201", flow(f'"{GROUP}" key model_kye'), "model_kye", "did you mean `model_key`"),
    ("E203", flow(f'"{GROUP}" key weights'), "weights", "must be a key"),
    ("E112", flow(f'"{GROUP}" model_key'), "model_key", "`key`"),
]


@pytest.mark.parametrize("code,text,under,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_flow_logs_are_diagnosed(tmp_path, capsys, code, text, under, words):
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2, err
    assert f"error[{code}]" in err and words in err, err
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "flow_logs" in ln)
    col = text.splitlines()[line - 1].index(under) + 1
    assert located(err, path, line, col), err
    assert caret_under(err, under), err


def test_a_vpc_without_flow_logs_is_warned_about_by_name(tmp_path, capsys):
    rc, err, _, _ = run(tmp_path, capsys, EX.replace(LINE, ""))
    assert rc == 0
    assert "warning[W457]: network `prod_vpc` has a `vpc` but no flow log records its traffic" in err, err
    assert caret_under(err, "prod_vpc")
    assert "`eval_vpc` has a `vpc`" not in err and "warning[W458]" in err  # another account: W458, not W457


def test_a_network_of_another_account_gets_w455_and_no_flow_log(tmp_path, capsys, example):
    rc, err, _, _ = run(tmp_path, capsys, EX)
    assert rc == 0 and "warning[W458]: slpc writes no flow log for network `eval_vpc` of account 444455556666" in err
    assert caret_under(err, "eval_vpc")
    assert [a.path for a in example.artifacts if a.kind == "ec2-flow-log"] == [PROD]


def test_a_network_without_vpc_gets_no_flow_log_and_no_warning(tmp_path, capsys):
    rc, err, _, _ = run(tmp_path, capsys, EX.replace(LINE, ""))
    assert "corp_office" not in err


def test_fmt_keeps_the_flow_logs_line(tmp_path):
    from slpc.dsl import format_spec, parse
    for text in (EX, flow(f'"{GROUP}" key model_key')):
        assert format_spec(parse(text, "x.slp").spec) == text


# --------------------------------------------------------------------------- #
# The artifacts


def test_the_flow_log_records_all_traffic_with_the_egress_fields(example):
    s = _arts(example)[PROD].settings
    assert s["ResourceType"] == "VPC" and s["ResourceIds"] == ["vpc-0a1b2c3d4e5f67890"]
    assert s["TrafficType"] == "ALL" and s["LogDestinationType"] == "cloud-watch-logs"
    assert s["LogDestination"] == GROUP_ARN
    fields = F.fields_of(s["LogFormat"])
    assert fields[:len(F.DEFAULT_FIELDS)] == F.DEFAULT_FIELDS  # the default fields, in AWS's order
    assert {"pkt-dst-aws-service", "flow-direction", "traffic-path"} <= set(fields)
    assert s["DeliverLogsPermissionArn"] == "arn:aws:iam::111122223333:role/slpc-acme-llm-flow-logs"


def test_the_destination_the_role_trusts_and_may_write(example):
    s = _arts(example)[DEST].settings
    assert (s["LogGroupName"], s["Arn"], s["KmsKeyId"], s["RetentionInDays"]) == (GROUP, GROUP_ARN, KEY_ARN, 365)
    (trust,) = s["DeliveryRole"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["vpc-flow-logs.amazonaws.com"]} and trust["Action"] == ["sts:AssumeRole"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"},
                                  "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-central-1:111122223333:vpc-flow-log/*"}}
    (write,) = s["DeliveryRole"]["Policy"]["Statement"]
    assert write["Resource"] == [GROUP_ARN, GROUP_ARN + ":*"] and "*" not in "".join(write["Action"])


def test_the_role_documents_pass_the_offline_validator(example):
    role = _arts(example)[DEST].settings["DeliveryRole"]
    assert lint(json.dumps(role["AssumeRolePolicyDocument"]), "resource", "AWS::IAM::AssumeRolePolicyDocument") == []
    assert lint(json.dumps(role["Policy"]), "identity") == []


def test_without_flow_logs_nothing_is_written_and_the_key_admits_no_service():
    c = compile_text(EX.replace(LINE, ""), "x.slp")
    assert not [a for a in c.artifacts if a.kind in ("ec2-flow-log", "logs-flow-log-destination")]
    assert "logs." not in _arts(c)[KEY_PATH].text and "PrincipalServiceName" not in _arts(c)[KEY_PATH].text


# --------------------------------------------------------------------------- #
# The key policy, under slpc's evaluator


def _decide(c, principal: str, action: str, context: dict, key_arn: str = KEY_ARN):
    ctx = {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": principal, **context}
    return Deployment.from_artifacts(c.artifacts).decide(principal, action, key_arn, ctx)


def test_cloudwatch_logs_may_use_the_key_for_the_flow_log_group(example):
    for action in F.LOGS_KEY_ACTIONS:
        assert _decide(example, LOGS, action, {F.LOGS_CONTEXT_KEY: GROUP_ARN}).allowed, action
    assert not _decide(example, LOGS, "kms:CreateGrant", {F.LOGS_CONTEXT_KEY: GROUP_ARN}).allowed


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"/[a-z0-9._/#-]{1,30}", fullmatch=True),
       region=st.sampled_from(["eu-central-1", "eu-west-1", "us-east-1"]),
       account=st.sampled_from(["111122223333", "444455556666"]),
       service=st.sampled_from([LOGS, "logs.eu-west-1.amazonaws.com", "logs.amazonaws.com",
                                "delivery.logs.amazonaws.com", "cloudtrail.amazonaws.com", "s3.amazonaws.com"]),
       action=st.sampled_from(F.LOGS_KEY_ACTIONS))
def test_no_other_log_group_or_service_may_use_the_key(name, region, account, service, action):
    """Any other encryption context (another group, region or account), or none, or any other
    service principal: denied."""
    c = _EXAMPLE
    context = f"arn:aws:logs:{region}:{account}:log-group:{name}"
    exact = (service, context) == (LOGS, GROUP_ARN)
    assert _decide(c, service, action, {F.LOGS_CONTEXT_KEY: context}).allowed == exact
    assert not _decide(c, service, action, {}).allowed


_EXAMPLE = compile_text(EX, "example.slp")


# --------------------------------------------------------------------------- #
# The prover models the admission


def _mutant(c, fn):
    arts = []
    for a in c.artifacts:
        if a.path == KEY_PATH:
            a = replace(a, document=replace(a.document, statements=tuple(fn(s) for s in a.document.statements)))
        arts.append(a)
    return arts


def _verdicts(c, artifacts):
    return {r.prop.number: r.verdict for r in prove(World.from_artifacts(c.model, artifacts), timeout_ms=20_000)}


def test_the_example_is_proved_with_the_logs_statement(example):
    assert set(_verdicts(example, example.artifacts).values()) == {"proved"}


def test_a_wildcard_log_group_context_is_refuted_by_claim_1(example):
    """Widened in the Allow alone, the deny still holds Logs to the group (proved); in both, refuted."""
    group = "arn:aws:logs:eu-central-1:111122223333:log-group:*"
    allow = lambda s: replace(s, conditions=(Condition("StringLike", F.LOGS_CONTEXT_KEY, (group,)),)) \
        if s.sid == "CloudWatchLogsForTheFlowLogGroup" else s  # noqa: E731
    both = lambda s: replace(allow(s), conditions=tuple(  # noqa: E731
        Condition("StringNotLike", c.key, (group,)) if c.key == F.LOGS_CONTEXT_KEY else c for c in s.conditions)) \
        if s.sid == "DenyCloudWatchLogsOtherLogGroups" else allow(s)
    assert _verdicts(example, _mutant(example, allow))[1] == "proved"
    assert _verdicts(example, _mutant(example, both))[1] == REFUTED


def test_the_logs_service_of_another_region_is_refuted_by_claim_1(example):
    """Named in the Allow alone, the deny still catches it (proved); spared by the deny too, refuted."""
    from slpc.policy.document import Principal
    west = "logs.eu-west-1.amazonaws.com"
    named = lambda s: replace(s, principal=Principal(entries=(("Service", (LOGS, west)),))) \
        if s.sid == "CloudWatchLogsForTheFlowLogGroup" else s  # noqa: E731
    spared = lambda s: replace(named(s), conditions=tuple(  # noqa: E731
        c._replace(values=(LOGS, west)) if c.key == "aws:PrincipalServiceName" else c for c in s.conditions))
    assert _verdicts(example, _mutant(example, named))[1] == "proved"
    assert _verdicts(example, _mutant(example, spared))[1] == REFUTED


def test_a_deny_that_catches_cloudwatch_logs_is_refuted_by_completeness(example):
    strict = lambda s: replace(s, conditions=tuple(  # noqa: E731
        c for c in s.conditions if c.key != "aws:PrincipalServiceName")) if s.effect == "Deny" else s
    assert _verdicts(example, _mutant(example, strict))[5] == REFUTED


# --------------------------------------------------------------------------- #
# Terraform and CloudFormation carry the artifacts' values


def test_terraform_flow_logs_are_the_artifacts(example):
    import hcl2
    from test_terraform import literal, resources
    tf = render("terraform", example.model, example.artifacts)["terraform/flow_logs.tf"]
    res = resources({"flow_logs.tf": hcl2.loads(tf)})
    s, d = _arts(example)[PROD].settings, _arts(example)[DEST].settings
    fl = res[("aws_flow_log", "prod_vpc")]
    assert literal(fl["vpc_id"]) == "vpc-0a1b2c3d4e5f67890" and literal(fl["traffic_type"]) == "ALL"
    assert literal(fl["log_format"]).replace("$${", "${") == s["LogFormat"]
    assert fl["log_destination"] == "${aws_cloudwatch_log_group.slpc_flow_logs.arn}"
    group = res[("aws_cloudwatch_log_group", "slpc_flow_logs")]
    assert (literal(group["name"]), literal(group["kms_key_id"]), group["retention_in_days"]) == (
        GROUP, KEY_ARN, 365)
    assert "aws_kms_key_policy.model_key" in "".join(group["depends_on"])  # the key admits Logs first


def test_cloudformation_flow_logs_are_the_artifacts(example):
    text = render("cloudformation", example.model, example.artifacts)["cloudformation/111122223333.yaml"]
    res = yaml.safe_load(text.split("\n", 1)[1])["Resources"]
    s, d = _arts(example)[PROD].settings, _arts(example)[DEST].settings
    fl = res["ProdVpcFlowLog"]["Properties"]
    assert (fl["ResourceId"], fl["TrafficType"], fl["LogFormat"], fl["LogDestination"]) == (
        "vpc-0a1b2c3d4e5f67890", "ALL", s["LogFormat"], GROUP_ARN)
    group = res["SlpcFlowLogGroup"]
    assert group["Properties"] == {"LogGroupName": GROUP, "KmsKeyId": KEY_ARN, "RetentionInDays": 365}
    assert group["DeletionPolicy"] == "Retain"
    role = res["SlpcFlowLogDeliveryRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"] == d["DeliveryRole"]["AssumeRolePolicyDocument"]
    assert role["Policies"][0]["PolicyDocument"] == d["DeliveryRole"]["Policy"]
    assert json.loads(json.dumps(fl["DeliverLogsPermissionArn"])) == {"Fn::GetAtt": ["SlpcFlowLogDeliveryRole", "Arn"]}


# --------------------------------------------------------------------------- #
# slpc diff


def test_diff_a_lost_flow_log_or_shorter_retention_widens(example):
    from slpc.compiler.diff import diff_models
    without = compile_text(EX.replace(LINE, ""), "x.slp").model
    shorter = compile_text(EX.replace("retain 365 days", "retain 90 days"), "x.slp").model
    assert [(c.kind, c.effect) for c in diff_models(example.model, without)] == [("network-flow-log-dropped", "widens")]
    assert [(c.kind, c.effect) for c in diff_models(without, example.model)] == [("network-flow-log-added", "neutral")]
    assert [(c.kind, c.effect) for c in diff_models(example.model, shorter)] == [("flow-logs-retention-changed",
                                                                                  "widens")]
    assert [(c.kind, c.effect) for c in diff_models(shorter, example.model)] == [("flow-logs-retention-changed",
                                                                                  "neutral")]


def test_the_account_wide_key_form_admits_cloudwatch_logs_the_same_way():
    """A key policy too large to name its grantees (W352) keeps the logs statement, and its
    denies spare CloudWatch Logs only: proved, and the evaluator agrees."""
    from slpc.policy.limits import RULES
    from slpc.targets import key
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(key, "measure", lambda kind, doc: RULES[kind].limit + 1)
        c = compile_text(EX, "example.slp")
    doc = _arts(c)[KEY_PATH]
    assert doc.coarser is not None and "CloudWatchLogsForTheFlowLogGroup" in doc.text
    assert all(any(k.key == "aws:PrincipalServiceName" for k in st.conditions)
               for st in doc.document.statements if st.effect == "Deny" and "kms:Decrypt" in st.actions)
    assert _decide(c, LOGS, "kms:GenerateDataKey", {F.LOGS_CONTEXT_KEY: GROUP_ARN}).allowed
    assert not _decide(c, LOGS, "kms:GenerateDataKey", {F.LOGS_CONTEXT_KEY: GROUP_ARN + "x"}).allowed
    # the account-wide Allow (Principal "*", kms:CallerAccount, kms:ViaService) would let Logs in too
    s3_like = {"kms:CallerAccount": "111122223333", "kms:ViaService": "s3.eu-central-1.amazonaws.com"}
    assert not _decide(c, LOGS, "kms:Decrypt", s3_like).allowed
    assert set(_verdicts(c, c.artifacts).values()) == {"proved"}
    # without the deny that holds Logs to the group, that Allow lets it in: refuted
    dropped = [replace(a, document=replace(a.document, statements=tuple(
        s for s in a.document.statements if s.sid != "DenyCloudWatchLogsOtherLogGroups"))) if a.path == KEY_PATH
        else a for a in c.artifacts]
    assert _verdicts(c, dropped)[1] == REFUTED
