"""An API stage in front of a SageMaker endpoint (`backend`, `integration_role`).

The integration role's trust and identity policies, the SCP's admission of it for its
backend alone, the meaning and the evaluator agreeing on every caller and action, the
prover (and mutants that widen the admission), and one test per bad input class.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import BACKEND_SPEC
from slpc.app.pipeline import compile_text
from slpc.compiler import verbs as V
from slpc.policy.document import Condition
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question
from slpc.verify.prove.properties import PROVED, REFUTED, prove
from slpc.verify.prove.world import STAR, World
from strategies import PROPERTY
from test_diagnostics import caret_under, located, run

ACCOUNT = "111122223333"
GATEWAY = f"arn:aws:iam::{ACCOUNT}:role/chat-gateway"
CHAT = f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/llm-chat-prod"
OTHER = f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/llm-other"
APP, OPS = f"arn:aws:iam::{ACCOUNT}:role/app", f"arn:aws:iam::{ACCOUNT}:role/ops"
INTRUDER = f"arn:aws:iam::{ACCOUNT}:role/intruder"


@pytest.fixture(scope="module")
def compiled():
    c = compile_text(BACKEND_SPEC, "backend.slp")
    assert c.ok, c.diagnostics
    return c


def _doc(compiled, path):
    return json.loads(next(a.text for a in compiled.artifacts if a.path == path))


def test_the_integration_role_may_only_invoke_its_backend(compiled):
    doc = _doc(compiled, "iam/111122223333/chat_gateway.json")
    assert doc["Statement"] == [{"Action": ["sagemaker:InvokeEndpoint"], "Effect": "Allow",
                                 "Resource": [CHAT], "Sid": "InvokeChatThroughItsApi"}]


def test_the_trust_admits_api_gateway_without_source_keys_api_gateway_does_not_send(compiled):
    (st_,) = _doc(compiled, "iam/111122223333/chat_gateway.trust.json")["Statement"]
    assert st_["Principal"] == {"Service": ["apigateway.amazonaws.com"]}
    assert st_["Action"] == ["sts:AssumeRole"] and "Condition" not in st_


def test_the_scp_names_the_integration_role_only_beside_its_backend(compiled):
    statements = [s for a in compiled.artifacts if a.path.startswith("org/scp")
                  for s in json.loads(a.text)["Statement"]]
    invoking = {s["Sid"] for s in statements if GATEWAY in json.dumps(s) and "sagemaker:InvokeEndpoint" in s["Action"]}
    assert invoking == {"DenyInvokingChatButByItsGrantees"}
    by_sid = {s["Sid"]: s for s in statements}
    assert GATEWAY in json.dumps(by_sid["DenyInvokingChatButByItsGrantees"])
    assert GATEWAY not in json.dumps(by_sid["DenyInvokingOtherButByItsGrantees"])
    streamed = by_sid["DenyInvokingChatOtherwiseButByItsGrantees"]
    assert set(streamed["Action"]) == set(V.ASSET_KINDS["endpoint"].data_actions) - {"sagemaker:InvokeEndpoint"}
    assert "Condition" not in streamed  # chat has no grantee: nobody invokes it otherwise


def _decide(compiled, principal, action, resource, ctx, star):
    return Deployment.from_artifacts(compiled.artifacts).decide(
        principal, action, resource, ctx, extra_identity=(STAR,) if star else ()).allowed


def _permits(compiled, principal, action, resource, ctx, star):
    return Meaning(compiled.model).permits(Question(principal, action, resource, ctx, star))


@PROPERTY
@given(st.sampled_from([GATEWAY, APP, OPS, INTRUDER]),
       st.sampled_from(V.ASSET_KINDS["endpoint"].data_actions),
       st.sampled_from([CHAT, OTHER]),
       st.sampled_from([None, "vpce-00000000000000007", "vpce-0123456789abcdef0"]),
       st.booleans())
def test_evaluator_and_meaning_agree_on_invoking(compiled, principal, action, resource, vpce, star):
    ctx = {"aws:RequestedRegion": "eu-central-1"} | ({"aws:SourceVpce": vpce} if vpce else {})
    assert _decide(compiled, principal, action, resource, ctx, star) == \
        _permits(compiled, principal, action, resource, ctx, star)


def test_the_meaning_lets_the_integration_role_invoke_its_backend_from_no_network(compiled):
    ctx = {"aws:RequestedRegion": "eu-central-1"}
    assert _permits(compiled, GATEWAY, "sagemaker:InvokeEndpoint", CHAT, ctx, True)
    assert _decide(compiled, GATEWAY, "sagemaker:InvokeEndpoint", CHAT, ctx, False)
    for action, resource in [("sagemaker:InvokeEndpointAsync", CHAT),
                             ("sagemaker:InvokeEndpointWithResponseStream", CHAT),
                             ("sagemaker:InvokeEndpoint", OTHER)]:
        assert not _permits(compiled, GATEWAY, action, resource, ctx, True)
        assert not _decide(compiled, GATEWAY, action, resource, ctx, True)
    # nobody else gains anything: the intruder holding *:* still reaches neither endpoint
    assert not _decide(compiled, INTRUDER, "sagemaker:InvokeEndpoint", CHAT, ctx, True)


def test_every_property_is_proved(compiled):
    results = prove(World.from_artifacts(compiled.model, compiled.artifacts), timeout_ms=20_000)
    assert [r.verdict for r in results] == [PROVED] * len(results)


def _scp_edit(compiled, sid, fn):
    out, hit = [], False
    for a in compiled.artifacts:
        if a.path.startswith("org/scp") and any(s.sid == sid for s in a.document.statements):
            hit = True
            a = replace(a, document=replace(a.document, statements=tuple(
                fn(s) if s.sid == sid else s for s in a.document.statements if fn(s) is not None)))
        out.append(a)
    assert hit, sid
    return out


def _admit_gateway(s):
    return replace(s, conditions=tuple(c._replace(values=c.values + (GATEWAY,)) if c.key == "aws:PrincipalArn"
                                       else c for c in s.conditions))


MUTANTS = {
    "the integration role admitted to another endpoint":
        ("DenyInvokingOtherButByItsGrantees", _admit_gateway),
    "the integration role admitted to stream and queue": ("DenyInvokingChatOtherwiseButByItsGrantees",
                                                          lambda s: replace(s, conditions=(Condition(
                                                              "ArnNotEquals", "aws:PrincipalArn", (GATEWAY,)),))),
    "the integration role's admission dropped": ("DenyInvokingChatButByItsGrantees",
                                                 lambda s: replace(s, conditions=())),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_widened_or_narrowed_admission_is_refuted_with_a_real_counterexample(compiled, name):
    artifacts = _scp_edit(compiled, *MUTANTS[name])
    refuted = [r for r in prove(World.from_artifacts(compiled.model, artifacts), timeout_ms=20_000)
               if r.verdict == REFUTED]
    assert refuted, f"mutant survived: {name}"
    for r in refuted:
        cex = r.counterexample and r.counterexample.counterexample
        if cex is not None:
            ctx = {k: v[0] if len(v) == 1 else v for k, v in cex.context.items()}
            widened = Deployment.from_artifacts(artifacts).decide(
                cex.principal, cex.action, cex.resource, ctx, extra_identity=(STAR,) if cex.star else ()).allowed
            assert widened != _permits(compiled, cex.principal, cex.action, cex.resource, ctx, cex.star)


# --------------------------------------------------------------------------- #
# Bad input

def _spec(**changes) -> str:
    text = BACKEND_SPEC
    for old, new in changes.values():
        assert old in text, old
        text = text.replace(old, new)
    return text


BAD = {
    "E345": (dict(x=('  sagemaker "llm-chat-prod"\n', '  sagemaker "llm-chat-prod"\n  backend other\n')),
             "other", "`backend` belongs to API Gateway endpoints"),
    "E345 ": (dict(x=("  integration_role chat_gateway\n", "")), "assistant", "has `backend` but no `integration_role`"),
    "E346": (dict(x=("  backend          chat\n", "  backend          assistant\n"),
                  y=("endpoint assistant {", "endpoint assistant {")), "assistant", "is not a SageMaker endpoint"),
    "E201": (dict(x=("  backend          chat\n", "  backend          chta\n")), "chta", "did you mean `chat`"),
    "E203": (dict(x=("  integration_role chat_gateway\n", "  integration_role chat\n")), "chat", "is not a role"),
    "E428": (dict(x=("allow ops invoke other", "allow chat_gateway invoke other")), "chat_gateway",
             "it holds grants"),
    "E428 ": (dict(x=("  assumed_by service apigateway\n  passed_by  deployer to apigateway\n",
                      '  assumed_by service apigateway\n  assumed_by identity_center "Gw"\n'
                      '  passed_by  deployer to apigateway\n')),
              "chat_gateway", "its trust is not exactly"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_located_and_explained(tmp_path, capsys, case):
    changes, under, words = BAD[case]
    code, err, _, path = run(tmp_path, capsys, _spec(**changes))
    assert code == 2 and f"error[{case.strip()}]" in err, err
    assert words in err and caret_under(err, under), err


def test_an_integration_role_of_another_account_is_refused(tmp_path, capsys):
    text = _spec(x=("  passed_by  deployer to apigateway\n  admins     [ops]\n}\nendpoint chat", "}\nendpoint chat"),
                 y=('role chat_gateway "arn:aws:iam::111122223333:role/chat-gateway"',
                    'role chat_gateway "arn:aws:iam::444455556666:role/chat-gateway"'),
                 z=('network vpc {', 'network other_vpc {\n  account "444455556666"\n  cidr "198.51.100.0/24"\n}\n'
                                     'network vpc {'))
    code, err, _, _ = run(tmp_path, capsys, text)
    assert code == 2 and "error[E428]" in err and "account 444455556666" in err, err


def test_a_role_calling_two_backends_is_refused(tmp_path, capsys):
    text = _spec(x=("allow app invoke", 'endpoint assistant_dev {\n  apigateway "a1b2c3d4e5"\n  stage "dev"\n'
                                        '  backend other\n  integration_role chat_gateway\n}\nallow app invoke'))
    code, err, _, path = run(tmp_path, capsys, text)
    assert code == 2 and "error[E428]" in err and "several backends (chat, other)" in err, err


def test_diff_reports_a_new_backend_as_widening_and_its_removal_as_narrowing(compiled):
    from slpc.compiler.diff import diff_models
    without = compile_text(_spec(x=("  backend          chat\n  integration_role chat_gateway\n", "")), "old.slp")
    assert without.ok
    (added,) = [c for c in diff_models(without.model, compiled.model) if c.kind == "api-backend-changed"]
    assert added.effect == "widens" and "as role chat_gateway" in added.description
    (removed,) = [c for c in diff_models(compiled.model, without.model) if c.kind == "api-backend-changed"]
    assert removed.effect == "narrows"


def test_explain_answers_from_the_meaning_and_the_policies_alike(tmp_path, capsys):
    from slpc.app.cli import main
    spec = tmp_path / "b.slp"
    spec.write_text(BACKEND_SPEC)
    for action, word in [("sagemaker:InvokeEndpoint", "ALLOW"), ("sagemaker:InvokeEndpointAsync", "DENY")]:
        assert main(["explain", str(spec), "--principal", GATEWAY, "--action", action, "--resource", CHAT,
                     "--context", "aws:RequestedRegion=eu-central-1"]) == 0
        out = capsys.readouterr().out
        assert f"AWS would {word}" in out and ("the spec permits it" in out) == (word == "ALLOW"), out


def test_fmt_keeps_backend_and_integration_role_in_place():
    from slpc.dsl import format_spec, parse
    shuffled = BACKEND_SPEC.replace("  backend          chat\n  integration_role chat_gateway\n",
                                    "  integration_role chat_gateway\n  backend chat\n")
    assert format_spec(parse(shuffled, "b.slp").spec).count("  backend          chat\n  integration_role chat_gateway\n") == 1


def test_in_the_merged_scp_form_the_integration_role_still_reaches_its_backend_alone(monkeypatch):
    """W535's merged deny admits every grantee and integration role on every endpoint; the
    integration role's own denies keep it to InvokeEndpoint on its backend."""
    from slpc.targets import guardrails
    monkeypatch.setattr(guardrails, "ATTACH_QUOTA", 1)
    c = compile_text(BACKEND_SPEC, "b.slp")
    assert c.ok and [d for d in c.diagnostics if d.code == "W535"]
    sids = {s.sid for a in c.artifacts if a.path.startswith("org/scp") for s in a.document.statements}
    assert {"DenyInvokingEndpointsButByTheirGrantees", "DenyInvokingButByChatItsIntegrationRoles"} <= sids
    ctx = {"aws:RequestedRegion": "eu-central-1"}
    assert _decide(c, GATEWAY, "sagemaker:InvokeEndpoint", CHAT, ctx, True)
    for action in V.ASSET_KINDS["endpoint"].data_actions:
        assert not _decide(c, GATEWAY, action, OTHER, ctx, True)
        assert _decide(c, GATEWAY, action, CHAT, ctx, True) == (action == "sagemaker:InvokeEndpoint")


def test_in_the_merged_form_a_family_of_endpoints_never_covers_the_backend(monkeypatch):
    """Numbered endpoints are named by one pattern in the merged SCP (`_briefly`); the denies
    keeping an integration role off the others must not name its own backend so."""
    from slpc.targets import guardrails
    monkeypatch.setattr(guardrails, "ATTACH_QUOTA", 1)
    numbered = "".join(f'endpoint chat{i:02} {{\n  sagemaker "llm-chat-{i:02}"\n}}\n' for i in range(6))
    text = _spec(x=("  backend          chat\n", "  backend          chat03\n")) + numbered
    c = compile_text(text, "b.slp")
    assert c.ok and [d for d in c.diagnostics if d.code == "W535"], c.diagnostics
    ctx = {"aws:RequestedRegion": "eu-central-1"}
    backend = f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/llm-chat-03"
    assert _decide(c, GATEWAY, "sagemaker:InvokeEndpoint", backend, ctx, True)
    assert not _decide(c, GATEWAY, "sagemaker:InvokeEndpoint", backend.replace("03", "04"), ctx, True)
