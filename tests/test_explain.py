"""`slpc explain`: the decision, the deciding statements, and the spec's own answer."""

import json

from slpc.app.cli import main
from conftest import EXAMPLE

INFERENCE = "arn:aws:iam::111122223333:role/llm-inference"
WEIGHTS = "arn:aws:s3:::acme-llm-weights"


def explain(capsys, *args):
    code = main(["explain", str(EXAMPLE), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_office_read_of_checkpoints_is_denied_with_reasons(capsys):
    code, out, _ = explain(capsys, "--principal", INFERENCE, "--action", "s3:GetObject",
                           "--resource", f"{WEIGHTS}/checkpoints/step-1.pt", "--context", "aws:SourceIp=198.51.100.7")
    assert code == 0
    assert "AWS would DENY" in out
    assert "s3/weights.json  DenyOutsideNetworks  (Deny)" in out
    assert "the spec does not permit it" in out


def test_json_answer_for_an_allowed_request(capsys):
    code, out, _ = explain(capsys, "--principal", INFERENCE, "--action", "s3:GetObject",
                           "--resource", f"{WEIGHTS}/released/v1.bin",
                           "--context", "aws:SourceVpce=vpce-01a2b3c4d5e6f7a80",
                           "--context", "aws:CurrentTime=2027-01-01T00:00:00Z", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["allowed"] is True and data["spec_permits"] is True and data["agrees"] is True
    assert {"policy": "iam/111122223333/inference.json", "index": 0, "sid": "ReadWeightsReleasedObjects",
            "effect": "Allow"} in data["statements"]
    assert "aws:CurrentTime=2027-01-01T00:00:00Z" not in data["assumed_context"]


def test_extra_identity_policies_cannot_widen_access(tmp_path, capsys):
    admin = tmp_path / "admin.json"
    admin.write_text(json.dumps({"Version": "2012-10-17",
                                 "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    code, out, _ = explain(capsys, "--principal", "arn:aws:iam::111122223333:role/Administrator",
                           "--action", "s3:GetObject", "--resource", f"{WEIGHTS}/released/v1.bin",
                           "--context", "aws:SourceVpce=vpce-01a2b3c4d5e6f7a80", "--identity-policy", str(admin))
    assert code == 0 and "AWS would DENY" in out and "DenyObjectActionsExceptEvaluatorInference" in out


def test_bad_context_is_a_usage_error(capsys):
    code, _, err = explain(capsys, "--principal", INFERENCE, "--action", "s3:GetObject",
                           "--resource", f"{WEIGHTS}/x", "--context", "novalue")
    assert code == 2 and "KEY=VALUE" in err


def test_help_topics(capsys):
    assert main(["help", "verbs"]) == 0
    out = capsys.readouterr().out
    assert "s3:GetObject" in out and "sagemaker:InvokeEndpointWithResponseStream" in out
    assert main(["help", "verb"]) == 2
    assert "did you mean `verbs`" in capsys.readouterr().err
