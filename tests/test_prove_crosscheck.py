"""Cross-check: the solver's encoding agrees with the evaluator and the spec's meaning.

On generated deployments and the differential tests' edge-biased requests, the
symbolic terms fixed to one concrete request must *prove* the evaluator's
decision and the meaning's answer (the opposite is unsatisfiable). This is what
makes a proof over all requests trustworthy: the encoding is the evaluator's
semantics, request by request. A second property runs `slpc prove` itself on
generated deployments: whatever it refutes must be a real disagreement.
"""

import dataclasses

import pytest
import z3
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_text
from slpc.dsl import format_spec
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question
from slpc.verify.prove.context import IAM, pin
from slpc.verify.prove.properties import REFUTED, UNKNOWN, prove
from slpc.verify.prove.solver import ANONYMOUS, SERVICE, Situation
from slpc.verify.prove.world import STAR, World
from strategies import EXAMPLES, specs
from test_differential import questions

pytestmark = pytest.mark.property

SERVICE_NAME = "logging.s3.amazonaws.com"
FEW = settings(max_examples=max(5, EXAMPLES // 10), deadline=None)


def _compiled(spec):
    compiled = compile_text(format_spec(spec), "gen.slp")
    assume(compiled.ok)
    return compiled


def _situation(world: World, q: Question) -> Situation | None:
    """The solver's view of a concrete question, or None when it is outside the proved universe."""
    if q.principal is None:
        who = ANONYMOUS
    elif q.principal.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        who = SERVICE
    elif not q.principal.startswith("arn:") or q.principal.endswith(":root"):
        return None  # account roots are not callers of the universe
    else:
        who = next((p.name for p in world.model.principals.values() if p.arn == q.principal), None)
        if who is None and not q.star:
            return None  # the outsider holds *:*
    for t in world.targets:
        inside = q.resource.startswith(t.arn + "/") if t.objects else q.resource == t.arn
        iam = who not in (ANONYMOUS, SERVICE)
        if not iam and (not world.has_resource_policy(t) or (who == ANONYMOUS and t.kms)):
            continue  # no such caller there (properties._not_iam)
        inside = inside and (t.context is None or t.context.holds(q.context))  # a key's part
        if inside and q.action in t.actions["data"] + t.actions["lock"]:
            # as the claims ask it: with the guardrails where no resource policy applies (properties._on_scp)
            return Situation(world, t, who, q.star and iam, guardrails=not world.has_resource_policy(t))
    return None


def _proves(s: Situation, q: Question, term: z3.BoolRef, expected: bool) -> bool:
    solver = z3.Solver()
    context = {k: [v] if isinstance(v, str) else list(v) for k, v in q.context.items()}
    solver.add(*s.ctx.facts, *pin(s.ctx, context), s.ctx.action == s.actions.index(q.action),
               s.ctx.resource == z3.StringVal(q.resource))
    if not s.caller.anonymous:  # a role's ARN, or a service's name
        solver.add(s.caller.arn == z3.StringVal(q.principal))
    assert solver.check() == z3.sat, f"the request is outside the encoded universe: {q}"
    solver.add(term != z3.BoolVal(expected))
    return solver.check() == z3.unsat


@FEW
@given(specs(), st.data())
def test_encoding_agrees_with_the_evaluator_and_the_meaning(spec, data):
    """Each drawn request, and the same request from an anonymous caller and from an AWS service."""
    _crosscheck(spec, data)


@FEW
@given(specs(access_points=True, max_grants=8), st.data())
def test_encoding_agrees_through_access_points(spec, data):
    """The same on buckets reached through access points: requests through a grantee's own
    access point, another grantee's, and straight to the bucket."""
    _crosscheck(spec, data)


@FEW
@given(specs(api_extras=True), st.data())
def test_encoding_agrees_on_api_backends_and_cognito_stages(spec, data):
    """The same with API stages calling the SageMaker endpoint as an integration role and
    stages admitting a Cognito pool's users (whose claims compare every caller with the meaning)."""
    _crosscheck(spec, data)


def _with_access_point_keys(q: Question) -> Question:
    """What S3 puts in the context of a request through an access point (as Deployment.decide)."""
    if ":accesspoint/" not in q.resource:
        return q
    ap = "/".join(q.resource.split("/", 2)[:2])
    keys = {"s3:DataAccessPointArn": ap, "s3:DataAccessPointAccount": ap.split(":")[4],
            "s3:AccessPointNetworkOrigin": "Internet"}
    return dataclasses.replace(q, context={**keys, **q.context})


def _crosscheck(spec, data):
    compiled = _compiled(spec)
    world = World.from_artifacts(compiled.model, compiled.artifacts)
    deployment, meaning = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model)
    for i in range(10):
        q = data.draw(questions(compiled.model), label=f"request {i}")
        region = (q.resource.split(":") + [""] * 4)[3]  # as AWS sets it (and verify.request fills it in)
        q = Question(q.principal, q.action, q.resource,
                     {"aws:SecureTransport": "true", **({"aws:RequestedRegion": region} if region else {}),
                      **q.context}, q.star)
        q = _with_access_point_keys(q)
        for asked in (q, *(dataclasses.replace(q, principal=p, star=False) for p in (None, SERVICE_NAME))):
            _agree(spec, world, deployment, meaning, asked)


def _agree(spec, world: World, deployment: Deployment, meaning: Meaning, q: Question) -> None:
    s = _situation(world, q)
    if s is None:
        return
    decision = deployment.decide(q.principal, q.action, q.resource, q.context,
                                 extra_identity=(STAR,) if q.star else ())
    assert not s.ctx.imprecise, s.ctx.imprecise  # slpc's own policies are encoded exactly
    if q.context.get("aws:SourceVpce") in s.bystanders:
        # left out of the terms (solver.Situation) because AWS denies and the spec refuses there
        assert not decision.allowed and not meaning.permits(q), f"\n{format_spec(spec)}\n{q}"
        return
    assert _proves(s, q, s.allowed, decision.allowed), f"\n{format_spec(spec)}\n{q}\n{decision.explain()}"
    # no claim compares an anonymous or service caller with the meaning, but on a Cognito stage
    open_stage = any(a.authorizer and q.resource.startswith(a.arn + "/") for a in world.model.assets_of("api"))
    if s.caller.kind == IAM or open_stage:
        assert _proves(s, q, s.permits, meaning.permits(q)), f"\n{format_spec(spec)}\n{q}"


@settings(max_examples=max(3, EXAMPLES // 40), deadline=None)
@given(specs(max_grants=3))
def test_prove_on_generated_deployments_reports_only_real_refutations(spec):
    _only_real_refutations(spec)


@settings(max_examples=max(3, EXAMPLES // 40), deadline=None)
@given(specs(max_grants=4, access_points=True))
def test_prove_through_access_points_reports_only_real_refutations(spec):
    _only_real_refutations(spec)


@settings(max_examples=max(3, EXAMPLES // 40), deadline=None)
@given(specs(max_grants=3, api_extras=True))
def test_prove_on_api_backends_and_cognito_stages_reports_only_real_refutations(spec):
    _only_real_refutations(spec)


def _only_real_refutations(spec):
    compiled = _compiled(spec)
    results = prove(World.from_artifacts(compiled.model, compiled.artifacts), timeout_ms=20_000)
    assert not [o for r in results for o in r.outcomes if o.verdict == UNKNOWN]
    for r in results:
        for o in r.outcomes:
            if o.verdict == REFUTED:  # a compiler bug: the evaluator must confirm it
                c = o.counterexample
                ctx = {k: v[0] if len(v) == 1 else v for k, v in c.context.items()}
                decision = Deployment.from_artifacts(compiled.artifacts).decide(
                    c.principal, c.action, c.resource, ctx, extra_identity=(STAR,) if c.star else ())
                assert decision.allowed == c.allowed
    assert all(r.verdict != REFUTED for r in results), (
        format_spec(spec), [(r.prop.name, r.counterexample) for r in results if r.verdict == REFUTED])
