"""Claim 7 of `slpc prove` (role trust): the example proves it, every mutant that lets
someone undeclared obtain, pass or change a role is refuted with a real counterexample,
and the encoding of the role parts decides concrete requests as the evaluator does.

A counterexample is real when the evaluator (as `Deployment.decide` routes the request:
the role's trust policy for STS, the SCPs for IAM) allows it and the spec declares no
such way, passer or admin (checked here on the Model, apart from the prover's terms).
Obtaining a role is claimed on the account's own policies, so its counterexamples are
replayed without the guardrails; passing and changing are claimed with the SCPs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import z3

from slpc.app.pipeline import compile_text
from slpc.compiler import trust as T
from slpc.policy.document import Condition, Statement
from slpc.policy.kinds import GUARDRAIL_KINDS
from slpc.policy.matching import wildcard_match
from slpc.verify.deployment import Deployment
from slpc.verify.prove.context import pin
from slpc.verify.prove.properties import PROVED, REFUTED, prove
from slpc.verify.prove.solver import FEDERATED, SERVICE, Situation
from slpc.verify.prove.world import BY_CREDENTIALS, BY_TOKEN, STAR, World

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp"
ISSUER = "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
# Every other way to obtain a role, on top of the example's.
MORE_ROLES = f"""
role batch_job "arn:aws:iam::111122223333:role/ml/batch-job" {{
  assumed_by irsa "{ISSUER}" namespace "ml" service_account "batch"
  admins     [security_admin]
}}

role analyst "arn:aws:iam::111122223333:role/analyst" {{
  assumed_by role security_admin
  assumed_by account "444455556666"
  admins     [security_admin]
}}

role builder "arn:aws:iam::111122223333:role/builder" {{
  assumed_by service ec2
  assumed_by service bedrock
  passed_by  deployer to ec2
  passed_by  deployer to bedrock
  admins     [security_admin, breakglass]
}}
"""


def _compile(text: str):
    compiled = compile_text(text, str(EXAMPLE))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    return compiled


@pytest.fixture(scope="module")
def example():
    return _compile(EXAMPLE.read_text())


@pytest.fixture(scope="module")
def extended():
    return _compile(EXAMPLE.read_text() + MORE_ROLES)


def _claim7(compiled, artifacts):
    result, = prove(World.from_artifacts(compiled.model, artifacts), timeout_ms=20_000, numbers=[7])
    return result


# -- mutants ----------------------------------------------------------------- #
def _edit(which, fn):
    """A mutant: `fn` maps the statements of each document `which(artifact)` picks to new statements."""
    def apply(artifacts):
        return [replace(a, document=replace(a.document, statements=tuple(fn(list(a.document.statements)))))
                if which(a) else a for a in artifacts]
    return apply


def _path(path: str):
    return lambda a: a.path == path


def _scps(a) -> bool:
    return a.kind == "scp"


def _conditions(fn):
    """A statement with its conditions mapped by `fn` (None drops one)."""
    return lambda s: replace(s, conditions=tuple(c for c in map(fn, s.conditions) if c is not None))


def _all(fn):
    return lambda sts: [fn(s) for s in sts]


def _sids(prefix: str, fn):
    return lambda sts: [fn(s) if (s.sid or "").startswith(prefix) else s for s in sts]


PASS_ANY_ROLE = Statement("Allow", actions=("iam:PassRole",), resources=("*",), sid="PassAnyRole")


def _both(*mutants):
    def apply(artifacts):
        for m in mutants:
            artifacts = m(artifacts)
        return artifacts
    return apply


MUTANTS = {
    "a trust naming the account root without a condition": (False, _edit(
        _path("iam/111122223333/security_admin.trust.json"), _all(_conditions(lambda c: None)))),
    "a service principal without aws:SourceAccount": (False, _edit(
        _path("iam/111122223333/trainer.trust.json"),
        _all(_conditions(lambda c: None if c.key == "aws:SourceAccount" else c)))),
    "an IRSA subject with a wildcard namespace": (True, _edit(
        _path("iam/111122223333/batch_job.trust.json"),
        _all(_conditions(lambda c: Condition("StringLike", c.key, ("system:serviceaccount:ml:*",))
                         if c.key.endswith(":sub") else c)))),
    "PassRole on * for a non-passer, the SCP's passer deny removed": (False, _both(
        _edit(_path("iam/111122223333/trainer.json"), lambda sts: sts + [PASS_ANY_ROLE]),
        _edit(_scps, lambda sts: [s for s in sts
                                  if not (s.sid or "").startswith("DenyPassingRolesButByTheirPassers")]))),
    "PassRole on * for a non-passer, the SCP's passer deny exempting every role": (False, _both(
        _edit(_path("iam/111122223333/trainer.json"), lambda sts: sts + [PASS_ANY_ROLE]),
        _edit(_scps, _sids("DenyPassingRolesButByTheirPassers", _conditions(
            lambda c: Condition("ArnNotLike", c.key, ("arn:aws:iam::111122223333:role/*",))))))),
    "the SCP's role-change deny without iam:AttachRolePolicy": (False, _edit(_scps, _sids(
        "DenyRoleChangesButByTheirAdmins",
        lambda s: replace(s, actions=tuple(x for x in s.actions if x != "iam:AttachRolePolicy"))))),
}


def _declared(model, cex) -> bool:
    """Whether the spec lets this caller do this to the role (from the Model alone)."""
    role = next(p for p in model.principals.values() if p.arn == cex.resource)
    context = {k.lower(): v for k, v in cex.context.items()}
    has = lambda key, value: value in context.get(key.lower(), [])  # noqa: E731
    arn = lambda name: model.principals[name].arn  # noqa: E731
    if cex.action == "iam:PassRole":
        return any(cex.principal == arn(who) and has("iam:PassedToService", svc) for who, svc in role.passers)
    if cex.action.startswith("iam:"):
        return cex.principal in {arn(a) for a in role.admins}
    return any(_way(model, role, w, cex.principal, has) for w in role.trust)


def _way(model, role, w, principal: str, has) -> bool:
    partition = model.deployment.partition
    if w.via == T.ROLE:
        return principal == model.principals[w.subject].arn
    if w.via == T.IDENTITY_CENTER:
        return wildcard_match(T.sso_role_pattern(partition, role.account, w.subject), principal)
    if w.via == T.ACCOUNT:
        return principal.split(":")[4] == w.subject
    if w.via == T.SERVICE:
        svc = T.TRUSTED_SERVICES[w.subject]
        return principal == svc.principal and (svc.source_arn is None or has("aws:SourceAccount", role.account))
    if w.via == T.EKS_POD:
        tags = {"cluster": w.subject, **dict(w.qualifiers)}
        return principal == T.POD_IDENTITY and all(has(f"aws:RequestTag/{T.POD_TAGS[k]}", v) for k, v in tags.items())
    issuer = w.subject if w.via == T.IRSA else T.GITHUB_ISSUER
    subject = (f"system:serviceaccount:{w.qualifier('namespace')}:{w.qualifier('service_account')}"
               if w.via == T.IRSA else "repo:{}:{}:{}".format(w.subject, *w.qualifiers[0]))
    return (principal == f"arn:{partition}:iam::{role.account}:oidc-provider/{issuer}"
            and has(f"{issuer}:sub", subject) and has(f"{issuer}:aud", T.OIDC_AUDIENCE))


def _confirm(compiled, artifacts, cex) -> None:
    """The evaluator allows the request and the spec declares no such way."""
    obtaining = cex.action.startswith("sts:")  # claimed on the account's own policies: no guardrails
    deployment = Deployment.from_artifacts(
        [a for a in artifacts if not (obtaining and a.kind in GUARDRAIL_KINDS)])
    context = {k: v[0] if len(v) == 1 else v for k, v in cex.context.items()}
    decision = deployment.decide(cex.principal, cex.action, cex.resource, context,
                                 extra_identity=(STAR,) if cex.star else ())
    assert decision.allowed, (cex, decision.explain())
    assert not _declared(compiled.model, cex), cex


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_refuted_with_a_real_counterexample(example, extended, name):
    on_extended, mutant = MUTANTS[name]
    compiled = extended if on_extended else example
    artifacts = mutant(compiled.artifacts)
    assert artifacts != list(compiled.artifacts), "the mutant changed nothing"
    result = _claim7(compiled, artifacts)
    assert result.verdict == REFUTED, f"mutant survived: {name}"
    _confirm(compiled, artifacts, result.counterexample.counterexample)


@pytest.mark.parametrize("spec", ["example", "extended"])
def test_the_declared_trust_is_proved(request, spec):
    compiled = request.getfixturevalue(spec)
    result = _claim7(compiled, compiled.artifacts)
    assert result.verdict == PROVED, [(o.query, o.verdict, o.note) for o in result.outcomes if o.verdict != PROVED]
    world = World.from_artifacts(compiled.model, compiled.artifacts)
    governed = sorted(p.name for p in compiled.model.principals.values() if p.trust is not None)
    for in_sts in (True, False):  # every role is asked about in STS, and in IAM
        assert sorted(p.name for t in world.roles if t.sts == in_sts for p in t.roles) == governed


def test_roles_without_a_block_are_out_of_scope():
    compiled = _compile(EXAMPLE.read_text() + '\nrole unsaid "arn:aws:iam::111122223333:role/unsaid"\n')
    world = World.from_artifacts(compiled.model, compiled.artifacts)
    assert "unsaid" not in {t.role.name for t in world.roles}


# -- the encoding of role parts agrees with the evaluator, request by request ---- #
SSO_ADMIN = ("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
             "AWSReservedSSO_SecurityAdmin_0123456789abcdef")
GITHUB = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
IRSA = f"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"
SAGEMAKER = {"aws:SourceAccount": "111122223333", "aws:SourceArn": "arn:aws:sagemaker:eu-central-1:111122223333:x"}
CALLERS = [  # (who as the prover asks, principal, its context)
    (None, "arn:aws:iam::111122223333:role/security-admin", {}),
    (None, "arn:aws:iam::111122223333:role/llm-ci-deployer", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    (None, "arn:aws:iam::111122223333:role/llm-ci-deployer", {"iam:PassedToService": "ec2.amazonaws.com"}),
    (None, SSO_ADMIN, {}),
    (None, "arn:aws:iam::444455556666:role/evaluation-admin", {}),
    (None, "arn:aws:iam::999988887777:user/someone", {}),
    (SERVICE, "sagemaker.amazonaws.com", SAGEMAKER),
    (SERVICE, "sagemaker.amazonaws.com", {**SAGEMAKER, "aws:SourceAccount": "999988887777"}),
    (SERVICE, "ec2.amazonaws.com", {}),
    (SERVICE, "pods.eks.amazonaws.com", {"aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:111122223333:"
                                         "cluster/chat-prod", "aws:RequestTag/kubernetes-namespace": "chat",
                                         "aws:RequestTag/kubernetes-service-account": "frontend"}),
    (FEDERATED, GITHUB, {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                         "token.actions.githubusercontent.com:sub": "repo:acme/llm-platform:environment:production"}),
    (FEDERATED, IRSA, {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": "system:serviceaccount:ml:other"}),
]


def _pinned(s: Situation, principal: str, resource: str, context: dict) -> z3.Solver:
    """A solver holding the situation's facts with the request fixed but for its action."""
    solver = z3.Tactic("default").solver()
    given = {k: [v] for k, v in {"aws:SecureTransport": "true", **context}.items()}
    solver.add(*s.ctx.facts, *pin(s.ctx, given), s.ctx.resource == z3.StringVal(resource),
               s.caller.arn == z3.StringVal(principal))
    if s.caller.kind == "iam":  # the outsider's account too: Z3 splits its ARN far sooner
        solver.add(s.caller.account == z3.StringVal(principal.split(":")[4]))
    return solver


@pytest.mark.parametrize("who, principal, context", CALLERS)
def test_role_parts_encode_what_the_evaluator_decides(extended, who, principal, context):
    """For every role part, the encoding fixed to the request proves the evaluator's decision
    (without the guardrails in STS, with them in IAM) for each action."""
    world = World.from_artifacts(extended.model, extended.artifacts)
    own = Deployment.from_artifacts([a for a in extended.artifacts if a.kind not in GUARDRAIL_KINDS])
    guarded = Deployment.from_artifacts(extended.artifacts)
    for t in world.roles:
        if not t.sts and who is not None:
            continue  # only IAM identities pass or change roles
        actions = (BY_TOKEN if who == FEDERATED else BY_CREDENTIALS) if t.sts else t.actions["lock"]
        s = Situation(world, t, who, star=who is None, guardrails=not t.sts)
        for arn in t.arns:
            decided = {a: (own if t.sts else guarded).decide(principal, a, arn, context,
                                                             extra_identity=(STAR,) if who is None else ())
                       for a in actions}
            solver = _pinned(s, principal, arn, context)
            assert solver.check() == z3.sat, (principal, arn)  # the request is in the encoded universe
            solver.add(z3.Or(*(z3.And(s.ctx.action == s.actions.index(a), s.allowed != z3.BoolVal(d.allowed))
                               for a, d in decided.items())))
            assert solver.check() == z3.unsat, (principal, arn, {a: d.explain() for a, d in decided.items()})
