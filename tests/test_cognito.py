"""API stages whose callers a Cognito user pool authorizes (`authorizer cognito ...`).

The resource and endpoint policies name no principal for such a stage (a pool user's
request carries a token, not a role's signature), still pin its networks, and leave the
API's IAM stages as they were; the meaning, the evaluator and the prover agree; the
report says which users reach it from where; one test per bad input class.
"""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import COGNITO_SPEC, ROOT
from slpc.app.pipeline import compile_text
from slpc.report import build_report, render
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question
from slpc.verify.prove.properties import PROVED, REFUTED, prove
from slpc.verify.prove.world import STAR, World
from strategies import PROPERTY
from test_diagnostics import caret_under, run

STAGE = "arn:aws:execute-api:eu-central-1:111122223333:a1b2c3d4e5"
POLICY = "apigateway/a1b2c3d4e5.json"
USERS_VPCE, PARTNER_VPCE = "vpce-00000000000000005", "vpce-00000000000000006"
APP = "arn:aws:iam::111122223333:role/app"
OUTSIDER = "arn:aws:iam::999988887777:role/outsider"
POOL = "arn:aws:cognito-idp:eu-central-1:111122223333:userpool/eu-central-1_AbCdEf123"


@pytest.fixture(scope="module")
def compiled():
    c = compile_text(COGNITO_SPEC, "cognito.slp")
    assert c.ok, c.diagnostics
    return c


def _statements(compiled, path):
    return {s["Sid"]: s for s in json.loads(next(a.text for a in compiled.artifacts if a.path == path))["Statement"]}


def test_the_stage_is_open_to_anyone_through_its_users_networks_only(compiled):
    sts = _statements(compiled, POLICY)
    allow = sts["AllowChatPoolUsersViaEndpoint"]
    assert allow["Principal"] == "*" and allow["Resource"] == [f"{STAGE}/prod/*"]
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": USERS_VPCE}}
    assert sts["DenyChatOutsideItsUsersNetworks"]["Condition"] == {
        "StringNotEqualsIfExists": {"aws:SourceVpce": USERS_VPCE}}
    # nothing that names a principal touches the Cognito stage: it would lock its users out
    for s in sts.values():
        if f"{STAGE}/prod/*" in s.get("Resource", []) + s.get("NotResource", []):
            assert "aws:PrincipalArn" not in json.dumps(s.get("Condition", {})), s


def test_the_endpoint_policy_lets_anyone_invoke_that_stage_alone(compiled):
    sts = _statements(compiled, f"vpce/{USERS_VPCE}.json")
    assert list(sts) == ["AllowChatPoolUsers"]
    assert sts["AllowChatPoolUsers"]["Resource"] == [f"{STAGE}/prod/*"]
    assert sts["AllowChatPoolUsers"]["Action"] == ["execute-api:Invoke"]


@PROPERTY
@given(st.sampled_from([None, APP, OUTSIDER]), st.sampled_from(["prod", "admin"]),
       st.sampled_from([None, USERS_VPCE, PARTNER_VPCE, "vpce-0123456789abcdef0"]), st.booleans(),
       st.sampled_from(["execute-api:Invoke", "execute-api:InvalidateCache"]))
def test_evaluator_and_meaning_agree(compiled, principal, stage, vpce, star, action):
    ctx = {"aws:RequestedRegion": "eu-central-1"} | ({"aws:SourceVpce": vpce} if vpce else {})
    resource = f"{STAGE}/{stage}/POST/v1/chat"
    star = star and principal is not None
    allowed = Deployment.from_artifacts(compiled.artifacts).decide(
        principal, action, resource, ctx, extra_identity=(STAR,) if star else ()).allowed
    assert allowed == Meaning(compiled.model).permits(Question(principal, action, resource, ctx, star))


def test_the_meaning_admits_pool_users_from_their_network_and_nobody_else(compiled):
    m = Meaning(compiled.model)
    ask = lambda who, stage, vpce: m.permits(Question(  # noqa: E731
        who, "execute-api:Invoke", f"{STAGE}/{stage}/POST/v1/chat", {"aws:SourceVpce": vpce}))
    assert ask(None, "prod", USERS_VPCE) and not ask(None, "prod", PARTNER_VPCE)
    assert not ask(None, "admin", USERS_VPCE) and not ask(OUTSIDER, "admin", PARTNER_VPCE)
    assert ask(APP, "admin", PARTNER_VPCE)


def test_every_property_is_proved(compiled):
    results = prove(World.from_artifacts(compiled.model, compiled.artifacts), timeout_ms=20_000)
    assert [r.verdict for r in results] == [PROVED] * len(results)


def _edit(compiled, *edits):
    """A mutant: each (path, fn) maps the statements of one document (None drops one)."""
    out = []
    for a in compiled.artifacts:
        for path, fn in edits:
            if a.path == path:
                a = replace(a, document=replace(a.document, statements=tuple(
                    x for x in (fn(s) for s in a.document.statements) if x is not None)))
        out.append(a)
    return out


def _open_partner_endpoint(s):
    """The partner network's endpoint policy also lets anyone invoke the Cognito stage."""
    return replace(s, resources=s.resources + (f"{STAGE}/prod/*",), conditions=())


MUTANTS = {
    # the users' networks dropped from both layers: anyone through the partner network's endpoint
    "the users' networks dropped": (
        (POLICY, lambda s: None if s.sid == "DenyChatOutsideItsUsersNetworks" else replace(s, conditions=())
         if s.sid == "AllowChatPoolUsersViaEndpoint" else s),
        (f"vpce/{PARTNER_VPCE}.json", _open_partner_endpoint)),
    # the users locked out: the allow dropped from the resource policy
    "the pool users' allow dropped": ((POLICY, lambda s: None if s.sid == "AllowChatPoolUsersViaEndpoint" else s),),
    # ... or from their endpoint's policy
    "the pool users' endpoint allow dropped": ((f"vpce/{USERS_VPCE}.json", lambda s: None),),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_mutant_is_refuted(compiled, name):
    artifacts = _edit(compiled, *MUTANTS[name])
    assert artifacts != list(compiled.artifacts)
    refuted = [r for r in prove(World.from_artifacts(compiled.model, artifacts), timeout_ms=20_000)
               if r.verdict == REFUTED]
    assert refuted, f"mutant survived: {name}"


def test_the_report_says_which_users_reach_the_stage_and_from_where(compiled):
    ev = build_report(compiled.model, compiled.artifacts, [(s.name, s.data) for s in compiled.sources],
                      generated_at="2026-01-01T00:00:00Z")
    jsonschema.validate(json.loads(render(ev)["evidence.json"]),
                        json.loads((ROOT / "report" / "evidence.schema.json").read_text()))
    by = {a["asset"]: a for a in ev["by_asset"]}
    assert by["chat"]["authorization"].startswith(f"Amazon Cognito user pool {POOL}")
    assert by["chat"]["callers"] == [{"who": f"users of Cognito user pool {POOL} with scopes chat-api/invoke",
                                      "how": "invoke every method of the stage", "networks": ["vpc"]}]
    assert by["admin"]["authorization"].startswith("AWS_IAM") and "callers" not in by["admin"]
    md = render(ev)["report.md"]  # Markdown-escaped
    assert "users of Cognito user pool " + POOL.replace("_", "\\_") + " with scopes chat-api/invoke | " \
           "invoke every method of the stage | \u2014 | `vpc`" in md
    assert "Authorization: AWS\\_IAM" in md


def test_the_report_names_an_integration_role_beside_its_backend():
    from conftest import BACKEND_SPEC
    c = compile_text(BACKEND_SPEC, "b.slp")
    ev = build_report(c.model, c.artifacts, [(s.name, s.data) for s in c.sources], generated_at="2026-01-01T00:00:00Z")
    (caller,) = {a["asset"]: a for a in ev["by_asset"]}["chat"]["callers"]
    assert caller["who"] == "chat_gateway" and "API stage assistant" in caller["how"]
    assert "chat_gateway" in render(ev)["report.html"]


# --------------------------------------------------------------------------- #
# Bad input

AUTH = ('authorizer cognito "arn:aws:cognito-idp:eu-central-1:111122223333:userpool/eu-central-1_AbCdEf123" '
        'scopes ["chat-api/invoke"] from vpc')


def _with(new: str, extra: tuple[str, str] | None = None) -> str:
    text = COGNITO_SPEC.replace(AUTH, new)
    if extra:
        text = text.replace(*extra)
    return text


BAD = {
    "E347": (AUTH.replace("cognito", "oauth", 1), "oauth", "unknown authorizer"),
    "E347 arn": (AUTH.replace("userpool/eu-central-1_", "userpool/"), "arn:aws:cognito-idp", "not a Cognito user pool"),
    "E347 partition": (AUTH.replace("arn:aws:", "arn:aws-cn:").replace("eu-central-1", "cn-north-1"),
                       "arn:aws-cn", "partition"),
    "E348": (AUTH.replace("eu-central-1", "eu-west-1"), "arn:aws:cognito-idp:eu-west-1",
             'region "eu-west-1"'),
    "E349": (AUTH.replace('["chat-api/invoke"]', '["chat api"]'), '"chat api"', "not an OAuth scope"),
    "E349 twice": (AUTH.replace('["chat-api/invoke"]', '["a/b", "a/b"]'), '"a/b"', "listed twice"),
    "E349 empty": (AUTH.replace('["chat-api/invoke"]', "[]"), "arn:aws:cognito-idp", "requires no scope"),
    "E201": (AUTH.replace("from vpc", "from vcp"), "vcp", "did you mean `vpc`"),
    "E403": (AUTH.replace("from vpc", "from office"), "office", "no execute-api endpoint"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_authorizer_is_located_and_explained(tmp_path, capsys, case):
    new, under, words = BAD[case]
    text = _with(new, ("network partner_vpc {", 'network office {\n  cidr "198.51.100.0/24"\n}\nnetwork partner_vpc {'))
    code, err, _, _ = run(tmp_path, capsys, text)
    assert code == 2 and f"error[{case.split()[0]}]" in err and words in err, err
    assert caret_under(err, under.split('"')[0] if under.startswith("arn") else under) or under in err, err


def test_an_authorizer_network_of_another_region_is_refused(tmp_path, capsys):
    """An execute-api endpoint reaches only its own region's private APIs: users calling from
    a network of eu-west-1 can never reach a stage of eu-central-1 (E448, as for a grant)."""
    text = COGNITO_SPEC.replace('regions ["eu-central-1"]', 'regions ["eu-central-1", "eu-west-1"]').replace(
        "network vpc {\n", 'network vpc {\n  region "eu-west-1"\n').replace(
        "network partner_vpc {\n", 'network partner_vpc {\n  region "eu-central-1"\n').replace(
        '  stage      "prod"\n', '  stage      "prod"\n  region     "eu-central-1"\n').replace(
        '  stage      "admin"\n', '  stage      "admin"\n  region     "eu-central-1"\n')
    code, err, _, _ = run(tmp_path, capsys, text)
    assert code == 2 and "error[E448]: api `chat` is in eu-central-1, and network `vpc` reaches execute-api " \
        "only through interface endpoints of eu-west-1" in err, err
    assert caret_under(err, "vpc"), err
    ok = text.replace("from vpc", "from partner_vpc")
    assert compile_text(ok, "ok.slp").ok


def test_a_role_granted_a_cognito_stage_is_refused(tmp_path, capsys):
    code, err, _, _ = run(tmp_path, capsys, COGNITO_SPEC + "allow app invoke chat from vpc\n")
    assert code == 2 and "error[E350]" in err and caret_under(err, "app"), err


def test_an_authorizer_on_a_sagemaker_endpoint_is_refused(tmp_path, capsys):
    text = COGNITO_SPEC + 'endpoint model {\n  sagemaker "m"\n  ' + AUTH + "\n}\n"
    code, err, _, _ = run(tmp_path, capsys, text)
    assert code == 2 and "error[E347]" in err and "belongs to API Gateway endpoints" in err, err


def test_diff_classifies_authorizer_changes(compiled):
    from slpc.compiler.diff import diff_models
    iam_only = compile_text(COGNITO_SPEC.replace("  " + AUTH + "\n", ""), "old.slp")
    more_scopes = compile_text(COGNITO_SPEC.replace('["chat-api/invoke"]', '["chat-api/invoke", "chat-api/admin"]'),
                               "new.slp")
    assert iam_only.ok and more_scopes.ok

    def change(a, b):
        (c,) = [c for c in diff_models(a.model, b.model) if c.kind == "api-authorizer-changed"]
        return c.effect
    assert change(iam_only, compiled) == "widens" and change(compiled, iam_only) == "narrows"
    # a token holding any one of the scopes passes: one more scope admits more tokens
    assert change(compiled, more_scopes) == "widens" and change(more_scopes, compiled) == "narrows"


def test_explain_says_the_authorizer_decides_after_iam(tmp_path, capsys):
    from slpc.app.cli import main
    spec = tmp_path / "c.slp"
    spec.write_text(COGNITO_SPEC)
    assert main(["explain", str(spec), "--principal", "anonymous", "--action", "execute-api:Invoke",
                 "--resource", f"{STAGE}/prod/POST/v1/chat", "--context", f"aws:SourceVpce={USERS_VPCE}"]) == 0
    out = capsys.readouterr().out
    assert "AWS would ALLOW" in out and "the spec permits it" in out
    assert f"Cognito authorizer admits only users of user pool {POOL} whose access token holds one of: " \
           "chat-api/invoke" in out
