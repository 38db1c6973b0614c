"""Who may become a role: the `assumed_by` / `passed_by` / `admins` / `session` lines of a
role block, their bad inputs, the trust policies and identity statements they compile to,
and the guardrails that keep anyone else from obtaining or changing the roles."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import EXAMPLE
from strategies import PROPERTY
from slpc.app.cli import main
from slpc.compiler.check import check
from slpc.dsl import ast, format_spec, parse
from slpc.targets import build
from slpc.targets.trust import NOBODY
from test_diagnostics import caret_under, located

EX = EXAMPLE.read_text()
TRAINER = '''role trainer "arn:aws:iam::111122223333:role/llm-trainer" {
  assumed_by service sagemaker
  passed_by  deployer to sagemaker
  admins     [security_admin]
}'''
assert TRAINER in EX


def _trainer(*lines: str) -> str:
    """The example with the trainer's block replaced by these lines."""
    body = "\n".join("  " + line for line in lines)
    return EX.replace(TRAINER, f'role trainer "arn:aws:iam::111122223333:role/llm-trainer" {{\n{body}\n}}')


def _built(text: str):
    parsed = parse(text, "spec.slp")
    assert not parsed.diagnostics
    result = check([parsed.spec])
    assert result.model is not None, [d.message for d in result.diagnostics]
    return build(result.model), result.diagnostics


def _doc(built, path: str) -> dict:
    (art,) = [a for a in built.artifacts if a.path == path]
    return json.loads(art.text)


# (code, spec text, text under the caret, words of the message or hint)
CASES = [
    ("E420", _trainer("assumed_by servise sagemaker"), "servise", "did you mean `service`"),
    ("E421", _trainer("assumed_by service sagemakr"), "sagemakr", "did you mean `sagemaker`"),
    ("E421", EX.replace("passed_by  deployer to sagemaker", "passed_by  deployer to sagemker", 1), "sagemker",
     "did you mean `sagemaker`"),
    ("E422", EX.replace('service_account "frontend"', 'service_account "front*"'), '"front*"', "wildcard"),
    ("E422", EX.replace('"acme/llm-platform"', '"acme/*"'), '"acme/*"', "wildcard"),
    ("E422", _trainer('assumed_by irsa "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" '
                      'namespace "*" service_account "trainer"'), '"*"', "exactly one"),
    ("E423", _trainer('assumed_by irsa "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" '
                      'namespace "ml"'), "irsa", "needs `service_account`"),
    ("E423", EX.replace('environment "production"', 'environment "production" ref "refs/heads/main"'),
     "github", "exactly one of `ref` or `environment`"),
    ("E423", _trainer('assumed_by service sagemaker region "eu-west-1"'), "region", "takes nothing"),
    ("E424", _trainer('assumed_by eks_pod "arn:aws:eks:eu-central-1:111122223333:nodegroup/x" namespace "ml" '
                      'service_account "t"'), '"arn:aws:eks:eu-central-1:111122223333:nodegroup/x"', "cluster ARN"),
    ("E424", _trainer('assumed_by irsa "https://example.com/id/1" namespace "ml" service_account "t"'),
     '"https://example.com/id/1"', "OIDC issuer"),
    ("E424", EX.replace('"acme/llm-platform"', '"llm-platform"'), '"llm-platform"', "OWNER/NAME"),
    ("E424", EX.replace('environment "production"', 'ref "main"'), '"main"', "refs/heads/main"),
    ("E424", EX.replace('"SecurityAdmin"', '"Security Admin"'), '"Security Admin"', "permission set"),
    ("E424", EX.replace('namespace "chat"', 'namespace "Chat_App"'), '"Chat_App"', "Kubernetes namespace"),
    ("E425", _trainer('assumed_by account "111122223333"'), '"111122223333"', "every principal"),
    ("E425", _trainer('assumed_by account "999999999999"'), '"999999999999"', "not part of the spec"),
    ("E425", _trainer("assumed_by role trainer"), "trainer", "trust itself"),
    ("E425", EX.replace('cluster/chat-prod"', 'cluster/chat-prod"').replace(
        "arn:aws:eks:eu-central-1:111122223333:cluster/chat-prod", "arn:aws:eks:eu-central-1:777788889999:cluster/c"),
     '"arn:aws:eks:eu-central-1:777788889999:cluster/c"', "not part of the spec"),
    ("E426", _trainer("assumed_by service ecs_tasks", "passed_by deployer to sagemaker"), "sagemaker",
     "add `assumed_by service sagemaker`"),
    ("E426", _trainer("assumed_by service sagemaker", "passed_by evaluator to sagemaker"), "evaluator",
     "only within their account"),
    ("E427", _trainer("assumed_by service sagemaker", "passed_by deployer to sagemaker", "session 13 hours"),
     "13 hours", "1 to 12 hours"),
    ("E427", _trainer("assumed_by service sagemaker", "passed_by deployer to sagemaker", "session 30 minutes"),
     "30 minutes", "3,600 to 43,200"),
    ("E201", _trainer("assumed_by role deployr"), "deployr", "did you mean `deployer`"),
    ("E201", _trainer("assumed_by service sagemaker", "passed_by deployr to sagemaker"), "deployr",
     "did you mean `deployer`"),
    ("E406", _trainer("assumed_by service sagemaker", "passed_by deployer to sagemaker", "admins [evaluator]"),
     "evaluator", "duties stay"),
    ("W430", EX.replace(TRAINER, 'role trainer "arn:aws:iam::111122223333:role/llm-trainer"'), "trainer",
     "no trust policy"),
    ("W431", _trainer("admins [security_admin]"), "trainer", "admits nobody"),
    ("W431", _trainer("assumed_by service sagemaker", "admins [security_admin]"), "trainer",
     "add `passed_by ROLE to sagemaker`"),
    ("W432", _trainer('assumed_by account "444455556666"', "admins [security_admin]"), '"444455556666"',
     "as a whole"),
    ("W433", _trainer("assumed_by role deployer", "admins [security_admin]").replace(
        '''role deployer "arn:aws:iam::111122223333:role/llm-ci-deployer" {
  assumed_by github "acme/llm-platform" environment "production"
  admins     [security_admin]
  session    1 hours
}''', 'role deployer "arn:aws:iam::111122223333:role/llm-ci-deployer"'), "trainer", "whoever can become"),
    ("W434", _trainer("assumed_by role security_admin", "admins [security_admin]", "session 4 hours"), "4 hours",
     "at most 1 hour"),
    ("W437", _trainer("assumed_by service sagemaker", "passed_by security_admin to sagemaker",
                      "admins [security_admin]"), "trainer", "an admin touches data"),
    ("W435", _trainer("assumed_by service sagemaker", "passed_by deployer to sagemaker"), "trainer",
     "only the management account"),
]


@pytest.mark.parametrize("code, text, under, words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_trust_is_diagnosed(tmp_path, capsys, code, text, under, words):
    path = tmp_path / "spec.slp"
    path.write_text(text)
    rc = main(["check", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert rc == (2 if code[0] == "E" else 0), err
    mine = [block for block in err.split("\n\n") if f"[{code}]" in block]
    assert mine, err
    assert any(caret_under(block, under) and words in block for block in mine), err
    lines = list(enumerate(text.splitlines(), 1))
    line = next((i for i, l in lines if under in l and l.lstrip().startswith(("assumed_by", "passed_by", "session",
                                                                               "admins"))),
                None) or next(i for i, l in lines if under in l and l.startswith("role "))
    assert any(located(block, str(path), line, text.splitlines()[line - 1].index(under) + 1) for block in mine), err


def test_role_blocks_format_and_parse_back():
    spec = parse(EX, "a.slp").spec
    text = format_spec(spec)
    assert text == EX  # the example is in canonical form
    again = parse(text, "b.slp").spec
    assert again == spec
    trainer = next(d for d in spec.declarations if isinstance(d, ast.Role) and d.name.text == "trainer")
    assert trainer.block and [w.kind.text for w in trainer.assumed_by] == ["service"]
    # a role without a block and one with an empty block say different things
    bare, empty = (parse(t, "c.slp").spec for t in ('role a "x"\n', 'role a "x" {\n}\n'))
    assert bare != empty and format_spec(empty) == 'role a "x" {\n}\n'


def test_example_trust_policies_state_each_way():
    built, _ = _built(EX)
    trainer = _doc(built, "iam/111122223333/trainer.trust.json")["Statement"]
    assert trainer == [{
        "Action": ["sts:AssumeRole"], "Effect": "Allow", "Sid": "ServiceSagemaker",
        "Principal": {"Service": ["sagemaker.amazonaws.com"]},
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"},
                      "ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:eu-central-1:111122223333:*"}}}]
    (pod,) = _doc(built, "iam/111122223333/chat_frontend.trust.json")["Statement"]
    assert pod["Principal"] == {"Service": ["pods.eks.amazonaws.com"]}
    assert pod["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert pod["Condition"]["StringEquals"] == {
        "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:111122223333:cluster/chat-prod",
        "aws:RequestTag/kubernetes-namespace": "chat", "aws:RequestTag/kubernetes-service-account": "frontend"}
    (gh,) = _doc(built, "iam/111122223333/deployer.trust.json")["Statement"]
    assert gh["Principal"] == {"Federated": [
        "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"]}
    assert gh["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert gh["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/llm-platform:environment:production"}
    (sso,) = _doc(built, "iam/111122223333/security_admin.trust.json")["Statement"]
    assert sso["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}
    assert sso["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/aws-reserved/"
                                            "sso.amazonaws.com/*AWSReservedSSO_SecurityAdmin_" + "?" * 16}}
    for a in built.artifacts:
        if a.kind == "iam-role-trust-policy":
            for s in json.loads(a.text)["Statement"]:
                assert "Resource" not in s and s["Principal"] not in ("*", {"AWS": "*"}) or s["Effect"] == "Deny"
                assert s["Principal"] != {"AWS": [f"arn:aws:iam::{a.account}:root"]} or "Condition" in s


def test_irsa_chaining_and_nobody():
    text = _trainer('assumed_by irsa "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" '
                    'namespace "ml" service_account "trainer"', "assumed_by role deployer",
                    "admins [security_admin]")
    built, diags = _built(text)
    irsa, chain = _doc(built, "iam/111122223333/trainer.trust.json")["Statement"]
    issuer = "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert irsa["Principal"] == {"Federated": [f"arn:aws:iam::111122223333:oidc-provider/{issuer}"]}
    assert irsa["Condition"]["StringEquals"] == {f"{issuer}:aud": "sts.amazonaws.com",
                                                 f"{issuer}:sub": "system:serviceaccount:ml:trainer"}
    assert chain["Principal"] == {"AWS": ["arn:aws:iam::111122223333:role/llm-ci-deployer"]}
    deployer = _doc(built, "iam/111122223333/deployer.json")["Statement"]
    assume = [s for s in deployer if s["Action"] == ["sts:AssumeRole"]]
    assert assume == [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Sid": "AssumeRoles",
                       "Resource": ["arn:aws:iam::111122223333:role/llm-trainer"]}]
    # nobody: a block with no way in
    built, diags = _built(_trainer("admins [security_admin]"))
    doc = _doc(built, "iam/111122223333/trainer.trust.json")
    assert doc["Statement"] == [json.loads(json.dumps({"Action": list(NOBODY.actions), "Effect": "Deny",
                                                      "Principal": {"AWS": ["*"]}, "Sid": NOBODY.sid}))]
    assert any(d.code == "W431" for d in diags)


def test_passers_get_pass_role_on_exactly_their_roles():
    built, _ = _built(EX)
    deployer = _doc(built, "iam/111122223333/deployer.json")["Statement"]
    passes = [s for s in deployer if s["Action"] == ["iam:PassRole"]]
    granted = {(r, s["Condition"]["StringEquals"]["iam:PassedToService"]) for s in passes for r in s["Resource"]}
    assert granted == {("arn:aws:iam::111122223333:role/llm-trainer", "sagemaker.amazonaws.com"),
                       ("arn:aws:iam::111122223333:role/llm-inference", "sagemaker.amazonaws.com"),
                       ("arn:aws:iam::111122223333:role/chat-frontend", "pods.eks.amazonaws.com")}
    for a in built.artifacts:  # nobody else may pass any role
        if a.kind == "iam-identity-policy" and a.name != "deployer" and a.name != "evaluation_admin":
            assert "iam:PassRole" not in a.text


def test_guardrails_keep_others_from_passing_changing_or_assuming_the_roles():
    built, _ = _built(EX)
    scp = [s for a in built.artifacts if a.kind == "scp" for s in json.loads(a.text)["Statement"]]
    rcp = [s for a in built.artifacts if a.kind == "rcp" for s in json.loads(a.text)["Statement"]]
    trainer = "arn:aws:iam::111122223333:role/llm-trainer"

    def covering(statements, action, arn):
        return [s for s in statements if action in s["Action"] and arn in s.get("Resource", ())]

    (passing,) = [s for s in covering(scp, "iam:PassRole", trainer) if "ArnNotEquals" in s.get("Condition", {})]
    assert passing["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == "arn:aws:iam::111122223333:role/llm-ci-deployer"
    (other_service,) = [s for s in covering(scp, "iam:PassRole", trainer) if "StringNotEquals" in s["Condition"]]
    assert other_service["Condition"]["StringNotEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
    for action in ("iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy",
                   "iam:PutRolePermissionsBoundary", "iam:TagRole"):
        (change,) = covering(scp, action, trainer)
        assert change["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == "arn:aws:iam::111122223333:role/security-admin"
    (outside,) = covering(rcp, "sts:AssumeRole", trainer)
    assert outside["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalAccount"] == "111122223333"
    assert covering(rcp, "sts:AssumeRoleWithSAML", trainer) and covering(rcp, "sts:AssumeRoleWithWebIdentity", trainer)
    deployer = "arn:aws:iam::111122223333:role/llm-ci-deployer"
    assert not covering(rcp, "sts:AssumeRoleWithWebIdentity", deployer)  # GitHub's OIDC is its way in


def test_a_deployer_of_many_roles_passes_them_by_family_and_says_so():
    """Past EXACT_PASSES roles to the same services, the identity policy names the family
    (W436); a family reaching a role the deployer may not pass is never used."""
    from slpc.targets.trust import EXACT_PASSES
    teams = [f'role t{i:02d}_train "arn:aws:iam::111122223333:role/ml/t{i:02d}-train" {{\n'
             f'  assumed_by service sagemaker\n  passed_by  deployer to sagemaker\n  admins     [security_admin]\n}}'
             for i in range(EXACT_PASSES + 1)]
    odd = ('role t99_train "arn:aws:iam::111122223333:role/ml/t99-train" {\n  assumed_by service sagemaker\n'
           '  passed_by  security_admin to sagemaker\n  admins     [security_admin]\n}')
    built, diags = _built(EX + "\n" + "\n\n".join(teams) + "\n")
    passes = [s for s in _doc(built, "iam/111122223333/deployer.json")["Statement"] if s["Sid"] == "PassRolesToSagemaker"]
    assert passes[0]["Resource"] == ["arn:aws:iam::111122223333:role/llm-inference",
                                     "arn:aws:iam::111122223333:role/llm-trainer",
                                     "arn:aws:iam::111122223333:role/ml/*"]
    assert any(d.code == "W436" and "role/ml/*" in d.message for d in list(diags) + list(built.diagnostics))
    built, _ = _built(EX + "\n" + "\n\n".join(teams + [odd]) + "\n")
    (passes,) = [s for s in _doc(built, "iam/111122223333/deployer.json")["Statement"]
                 if s["Sid"] == "PassRolesToSagemaker"]
    assert "arn:aws:iam::111122223333:role/ml/t99-train" not in passes["Resource"]
    assert not any("*" in r for r in passes["Resource"])  # every family pattern would reach t99
    assert len(passes["Resource"]) == EXACT_PASSES + 3


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def _role_blocks(draw) -> ast.Spec:
    """Roles with blocks of any shape the grammar admits (meaning is the compiler's)."""
    roles = []
    for i in range(draw(st.integers(1, 4))):
        ways = tuple(ast.Way(ast.Name(draw(_NAMES)),
                             ast.Name(draw(_NAMES)) if draw(st.booleans()) else ast.Str(draw(_VALUES)),
                             tuple((ast.Name(draw(_NAMES)), ast.Str(draw(_VALUES)))
                                   for _ in range(draw(st.integers(0, 3)))))
                     for _ in range(draw(st.integers(0, 3))))
        passes = tuple(ast.Pass(ast.Name(draw(_NAMES)), ast.Name(draw(_NAMES))) for _ in range(draw(st.integers(0, 2))))
        admins = tuple(ast.Name(n) for n in draw(st.lists(_NAMES, max_size=3)))
        session = ast.Duration(draw(st.integers(0, 99)), ast.Name(draw(_NAMES))) if draw(st.booleans()) else None
        roles.append(ast.Role(ast.Name(f"r{i}"), ast.Str(draw(_VALUES)), draw(st.booleans()) or bool(
            ways or passes or admins or session), ways, passes, admins, session))
    return ast.Spec(tuple(roles))


@PROPERTY
@given(_role_blocks())
def test_role_blocks_round_trip_through_the_formatter(spec):
    text = format_spec(spec)
    parsed = parse(text, "gen.slp")
    assert parsed.ok, [d.message for d in parsed.diagnostics]
    assert parsed.spec == spec
    assert format_spec(parsed.spec) == text
