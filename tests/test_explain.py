"""`slpc explain`: the decision, the deciding statements, and the spec's own answer; who may become a role."""

import json

import pytest

from slpc.app.cli import main
from slpc.policy.document import PolicyDocument, Principal, Statement
from slpc.targets import trust as trust_targets
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


@pytest.mark.parametrize("principal, context, allowed", [
    ("arn:aws:iam::111122223333:role/Admin", "aws:SourceIp=203.0.113.50", False),  # *:*, no grant, the internet
    ("arn:aws:iam::111122223333:role/Admin", "aws:SourceVpce=vpce-01a2b3c4d5e6f7a84", False),
    ("arn:aws:iam::111122223333:role/chat-frontend", "aws:SourceIp=203.0.113.50", False),  # outside prod_vpc
    ("arn:aws:iam::111122223333:role/chat-frontend", "aws:SourceVpce=vpce-01a2b3c4d5e6f7a84", True),
])
def test_an_endpoint_is_invoked_only_as_the_spec_says_whatever_else_the_caller_holds(
        tmp_path, capsys, principal, context, allowed):
    """A SageMaker endpoint has no resource policy: the spec's meaning is still "only chat_frontend,
    from prod_vpc", and the SCP is what makes AWS agree for a caller holding *:*."""
    admin = tmp_path / "admin.json"
    admin.write_text(json.dumps({"Version": "2012-10-17",
                                 "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    code, out, _ = explain(capsys, "--principal", principal, "--action", "sagemaker:InvokeEndpoint",
                           "--resource", "arn:aws:sagemaker:eu-central-1:111122223333:endpoint/llm-chat-prod",
                           "--context", context, "--identity-policy", str(admin), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["agrees"] is True
    assert data["allowed"] is allowed and data["spec_permits"] is allowed
    assert allowed or {s["policy"] for s in data["statements"]} == {"org/scp-1.json"}


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


# --- who may become a role --------------------------------------------------------

def test_who_can_become_the_trainer(capsys):
    code, out, _ = explain(capsys, "--who-can-become", "trainer")
    assert code == 0
    assert "role `deployer` passes `trainer` to sagemaker.amazonaws.com, which assumes it" in out
    assert ("with subject repo:acme/llm-platform:environment:production becomes `deployer`; then role `deployer` "
            "passes `trainer`") in out
    assert "iam/111122223333/trainer.trust.json  ServiceSagemaker  (Allow)" in out
    assert "the spec declares the same" in out


def test_who_can_become_takes_a_role_arn_and_answers_in_json(capsys):
    code, out, _ = explain(capsys, "--who-can-become", "arn:aws:iam::111122223333:role/llm-ci-deployer",
                           "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["role"] == "deployer" and data["agrees"] is True
    (path,) = data["paths"]
    assert path["steps"] == [{"how": "web_identity", "becomes": "deployer",
                              "source": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
                              "detail": "repo:acme/llm-platform:environment:production"}]
    assert data["spec_paths"] == [{"steps": path["steps"]}]


@pytest.mark.parametrize("origin, could", [("deployer", True), ("inference", False), ("security_admin", False)])
def test_could_one_role_run_code_as_another(capsys, origin, could):
    code, out, _ = explain(capsys, "--could", origin, "--become", "trainer", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["could"] is could and data["spec_could"] is could and data["agrees"] is True
    assert all(p["steps"][0]["source"] == origin for p in data["paths"])


def test_could_in_text(capsys):
    code, out, _ = explain(capsys, "--could", "inference", "--become", "trainer")
    assert code == 0 and "AWS would DENY it" in out and "no chain of hops from `inference` reaches it" in out


def test_a_role_whose_trust_the_spec_leaves_unsaid(tmp_path, capsys):
    spec = tmp_path / "spec.slp"
    block = EXAMPLE.read_text().split('role evaluator "arn:aws:iam::444455556666:role/model-evaluator" {')
    spec.write_text(block[0] + 'role evaluator "arn:aws:iam::444455556666:role/model-evaluator"\n'
                    + block[1].split("}", 1)[1])
    code = main(["explain", str(spec), "--who-can-become", "evaluator"])
    out = capsys.readouterr().out
    assert code == 0 and "the spec does not say who may obtain role `evaluator`" in out


def test_a_trust_policy_wider_than_the_spec_is_a_bug(monkeypatch, capsys):
    built = trust_targets.trust_policy

    def widened(model, role):
        doc = built(model, role)
        if role.name != "trainer":
            return doc
        extra = Statement("Allow", actions=("sts:AssumeRole",), principal=Principal.aws(INFERENCE), sid="Oops")
        return PolicyDocument(doc.statements + (extra,), doc.version)

    monkeypatch.setattr(trust_targets, "trust_policy", widened)
    code, out, _ = explain(capsys, "--who-can-become", "trainer")
    assert code == 1 and "DISAGREEMENT" in out
    assert "only AWS: role `inference` assumes `trainer`" in out


@pytest.mark.parametrize("args, message", [
    (["--could", "deployer"], "go together"),
    (["--who-can-become", "trainer", "--could", "deployer", "--become", "trainer"], "give one"),
    (["--who-can-become", "nobody"], "no role `nobody`"),
    ([], "--principal, --action, --resource required"),
])
def test_role_question_usage_errors(capsys, args, message):
    code, _, err = explain(capsys, *args)
    assert code == 2 and message in err
