"""Solver queries: build one, run it with a timeout, read a counterexample back.

A query asks "is there a request that breaks the claim?": unsat proves the claim
for every request of the query's universe; sat gives a request, which is then
replayed through the evaluator (`slpc.verify.evaluate`) and the spec's meaning
(`slpc.verify.meaning`) and reported only if they agree with the solver; a
timeout, or a replay that disagrees, answers "unknown" — never "proved".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import z3

from slpc.verify.evaluate import Evaluator, both
from slpc.verify.meaning import Meaning, Question
from slpc.verify.request import Request

from .context import DERIVED_KEYS, IAM, Context, SharedRequest
from .encode import allowed, behind_access_point
from .terms import _id, assert_all, conj, disj, implies, is_text, negate, text
from .world import DATA, LOCK, RoleTarget, Target, World

PROVED, REFUTED, UNKNOWN = "proved", "refuted", "unknown"
# `who` of the callers that are not IAM identities (not names a spec can declare)
ANONYMOUS, SERVICE, FEDERATED = "(anonymous)", "(AWS service)", "(federated)"
NOT_IAM = (ANONYMOUS, SERVICE, FEDERATED)


class Situation:
    """One caller before one part of one asset (or of the roles), under the policies that
    apply: the terms every property asks about, built once (over all the target's actions)
    and shared.

    Bystanders: the spec's VPC endpoints whose policies have nothing for this asset
    part and through which the spec lets this caller do nothing here. AWS denies a
    request through one and the spec does not permit it, and every claim's goal needs
    one of the two (`run` relies on it), so no claim can fail there. The terms leave
    them out (else every query would list every endpoint of the deployment, and grow
    with it); a solver model that lands on one is checked again with them excluded.
    """

    def __init__(self, world: World, target: Target | RoleTarget, who: str | None, star: bool, guardrails: bool):
        m = world.model
        self.world, self.target, self.who, self.star, self.guardrails = world, target, who, star, guardrails
        self.actions = target.actions[DATA] + target.actions[LOCK]
        self.ctx = ctx = Context(world.types, shared_request(world, target))
        ctx.scope = target.scope
        if who is None:
            self.caller = ctx.outsider(m.deployment.partition, [m.principals[n].arn for n in world.related(target)])
        elif who == ANONYMOUS:
            self.caller = ctx.anonymous()
        elif who == SERVICE:
            self.caller = ctx.service()
        elif who == FEDERATED:
            self.caller = ctx.federated(m.deployment.partition, world.providers)
        else:
            p = m.principals[who]
            self.caller = ctx.caller(p.arn, p.account, who)
        account = world.resource_account(target)
        ctx.fix_caller(self.caller, account)
        pol = world.applicable(self.caller.concrete, target, star, guardrails, self.caller.kind == IAM)
        self.bystanders = ctx.bystanders = self._bystanders(pol)
        pol = replace(pol, closed=tuple(vid for vid in pol.closed if vid not in self.bystanders))
        scp_applies = disj(*(is_text(self.caller.account, a) for a in sorted(world.scp_accounts(target))))
        self.allowed = allowed(ctx, pol, self.actions, self.caller, is_text(self.caller.account, account),
                               scp_applies)
        if target.access_point is not None:
            self.allowed = conj(self.allowed, behind_access_point(
                ctx, world.bucket_policy(target), pol.endpoints, pol.rcps, self.actions, self.caller,
                ctx.memo("behind", lambda: target.behind(ctx.resource)), (target.asset.arn, target.objects)))
        self._permits: z3.BoolRef | None = None

    def _bystanders(self, pol) -> frozenset[str]:
        if self.ctx.key("aws:SourceVpce").type.bound != 1:  # several values: one could be a bystander
            return frozenset()
        if isinstance(self.target, RoleTarget):  # the spec lets nothing through an endpoint to a role
            return frozenset(pol.closed)
        sm = self.world.meaning
        letting = {vid for a in self.actions for vid in sm.letting(self.who, a, self.target.asset)}
        return frozenset(vid for vid in pol.closed if vid in sm.places and vid not in letting)

    def on_bystander(self, model: z3.ModelRef) -> bool:
        v = self.ctx.key("aws:SourceVpce").values[0]
        return z3.is_true(model.eval(v.used, True)) and model.eval(v.term, True).as_string() in self.bystanders

    def no_bystander(self) -> z3.BoolRef:
        v = self.ctx.key("aws:SourceVpce").values[0]
        return implies(v.used, conj(*(v.term != text(vid) for vid in sorted(self.bystanders))))

    def per_action(self, term, actions) -> z3.BoolRef:
        """`term(action)` (a term or a Python bool) for whichever of `actions` the request names."""
        terms = ((i, term(a)) for i, a in enumerate(self.actions) if a in actions)
        return disj(*(conj(self.ctx.action_in((i,)), t) for i, t in terms))

    @property
    def permits(self) -> z3.BoolRef:
        """The spec's meaning of the request."""
        if self._permits is None:
            sm = self.world.meaning
            self._permits = self.per_action(
                lambda a: sm.permits(self.ctx, self.caller, a, self.target.asset, self.star,
                                     self.target.access_point), self.actions)
        return self._permits

    @property
    def assumed(self) -> list[z3.BoolRef]:
        """For a key policy stated coarser (W352, the manifest's `coarser`), what AWS guarantees
        about the requests that can occur at all. S3 calls KMS for a caller only on a request S3
        has authorized, so a key use through S3 for one of the spec's buckets happens only when
        that bucket's policies let the S3 request in: when the spec permits it (claim 6, proved
        on every bucket). Other key uses (direct calls, or through S3 for any other bucket)
        stay in the universe. A key in its exact form is held to the spec on its own."""
        if not self.target.kms or self.target.arn not in self.world.coarser:
            return []
        return [implies(self.world.meaning.through_s3_into(self.ctx, self.target.asset), self.permits)]


def access_point_keys(ctx: Context, target: Target) -> list[z3.BoolRef]:
    """What S3 sets about access points: on a request through one, its ARN, its account and
    its network origin (slpc's access points are not bound to a VPC); on any other, nothing."""
    names = ("s3:DataAccessPointArn", "s3:DataAccessPointAccount", "s3:AccessPointNetworkOrigin")
    ap = target.access_point
    if ap is None:
        return [negate(ctx.key(n).present) for n in names]
    values = (ap.arn, ap.arn.split(":")[4], "Internet")
    return [ctx.equals_text(n, z3.StringVal(v)) for n, v in zip(names, values)]


def shared_request(world: World, target: Target | RoleTarget) -> SharedRequest:
    """The target's symbolic request, made once and shared by every situation on it, with
    what is true of every request on the target whoever calls."""
    hit = world.requests.get(target.label)
    if hit is None:
        hit = world.requests[target.label] = SharedRequest(world.types)
        if isinstance(target, RoleTarget):
            hit.choices = target.arns
        ctx = Context(world.types, hit)
        ctx.scope = target.scope
        facts = target.context.constrain(ctx, world.context_values) if target.context is not None else []
        actions = len(target.actions[DATA] + target.actions[LOCK])
        facts += [target.resource(ctx), ctx.action >= 0, ctx.action < actions]
        if isinstance(target, Target) and not target.kms and target.asset.kind == "bucket":
            facts += access_point_keys(ctx, target)
        # a request through a VPC endpoint carries no public source address (aws:SourceIp)
        facts.append(implies(ctx.key("aws:SourceVpce").present, negate(ctx.key("aws:SourceIp").present)))
        hit.facts += facts
    return hit


def situation(world: World, target: Target | RoleTarget, who: str | None, star: bool, guardrails: bool) -> Situation:
    key = (target.label, who, star, guardrails)
    hit = world.situations.get(key)
    if hit is None:
        if len(world.situations) >= 2048:  # bounded memory on large deployments
            world.situations.clear()
        hit = world.situations[key] = Situation(world, target, who, star, guardrails)
    return hit


class Query:
    """One question to the solver: can a request naming one of `actions` make `goal` true?"""

    def __init__(self, label: str, world: World, target: Target | RoleTarget, who: str | None,
                 actions: tuple[str, ...], star: bool, guardrails: bool):
        star = star and who not in NOT_IAM  # no IAM policy applies to them: one situation each
        self.label, self.actions = label, actions
        self.s = situation(world, target, who, star, guardrails)
        self.world, self.target, self.who, self.star = world, target, who, star
        self.ctx, self.caller, self.allowed = self.s.ctx, self.s.caller, self.s.allowed
        self.goal: z3.BoolRef | None = None  # satisfiable exactly when the claim fails
        self.uses_meaning = False

    def per_action(self, term) -> z3.BoolRef:
        return self.s.per_action(term, self.actions)

    def permits(self) -> z3.BoolRef:
        self.uses_meaning = True
        return self.s.permits

    @property
    def facts(self) -> list[z3.BoolRef]:
        return [*self.ctx.facts, *self.s.assumed, self.ctx.action_in(tuple(i for i, a in enumerate(self.s.actions)
                                                          if a in self.actions))]


    def answering(self, model: z3.ModelRef) -> "Query":
        """The query a model of this one is a counterexample to."""
        return self


class Either:
    """One caller's two situations, without and with `*:*`, asked as one query.

    Its goal is `(not star and the first's facts and goal) or (star and the second's)`,
    `star` a fresh truth value: satisfiable exactly when one of the two queries is, so
    unsat proves both, and a model's `star` names the query it refutes (whose label,
    replay and counterexample are then reported). The facts both share (the caller's,
    the request's: the same terms) are asserted outright, the others stay in their
    branch. Asked only when the two leave out the same bystander endpoints, so the
    second question after a model on a bystander (`_try`) is each one's own."""

    def __init__(self, label: str, without: Query, with_star: Query):
        assert without.s.bystanders == with_star.s.bystanders
        self.label, self.halves, self.s = label, (without, with_star), without.s
        self.star = z3.Bool(f"holds_star_{without.ctx.tag}")
        facts = [without.facts, with_star.facts]
        both = {_id(f) for f in facts[0]} & {_id(f) for f in facts[1]}
        self.facts = [f for f in facts[0] if _id(f) in both]
        self.goal = disj(conj(negate(self.star), *(f for f in facts[0] if _id(f) not in both), without.goal),
                         conj(self.star, *(f for f in facts[1] if _id(f) not in both), with_star.goal))

    def answering(self, model: z3.ModelRef) -> Query:
        return self.halves[z3.is_true(model.eval(self.star, True))]


def with_and_without_star(label: str, without: Query, with_star: Query) -> list[Query | Either]:
    """The two queries as one `Either` where they leave out the same bystanders, else apart."""
    if without.s.bystanders != with_star.s.bystanders:
        return [without, with_star]
    return [Either(label, without, with_star)]


@dataclass(frozen=True)
class Counterexample:
    principal: str
    action: str
    resource: str
    context: dict[str, list[str]]
    star: bool
    allowed: bool  # what AWS decides (the evaluator agrees)
    spec_permits: bool | None  # what the spec says, when the property compares with it
    decision: str  # the evaluator's explanation


@dataclass(frozen=True)
class Outcome:
    query: str
    verdict: str
    seconds: float
    counterexample: Counterexample | None = None
    note: str | None = None


FIRST_TRY_MS = 200  # most queries answer in milliseconds; the rest are heavy-tailed


def run(q: Query | Either, timeout_ms: int) -> Outcome:
    """Ask the query within `timeout_ms` in all, by restarts: Z3's string solver takes
    milliseconds on most of these queries and, with the same terms in another order or
    seed, sometimes seconds or minutes. So a try that runs out of its share is restarted
    with another seed and twice the share (Luby-style), until the budget is spent. A
    restart changes only the search, never the question: unsat from any try is a proof."""
    start = time.perf_counter()
    share, seed = FIRST_TRY_MS, 0
    while True:
        left = timeout_ms - int((time.perf_counter() - start) * 1000)
        solver, answer = _try(q, max(1, min(share, left)), seed)
        if answer != z3.unknown or left <= share or "timeout" not in solver.reason_unknown():
            break
        share, seed = share * 2, seed + 1
    seconds = time.perf_counter() - start
    if answer == z3.unsat:
        return Outcome(q.label, PROVED, seconds)
    if answer == z3.unknown:
        return Outcome(q.label, UNKNOWN, seconds, note=f"solver: {solver.reason_unknown()}")
    model = solver.model()
    refuted = q.answering(model)
    cex, note = replay(refuted, model)
    return Outcome(refuted.label, REFUTED if note is None else UNKNOWN, seconds, cex, note)


def _new_solver() -> z3.Solver:
    """Z3's default tactic as a solver of its own. `z3.Solver()` is the same tactic paired
    with an incremental solver that simplifies every assertion as it arrives, for a check
    after push/pop that these one-shot queries never make: that pairing spent half of the
    prover's time outside the search (asserting and freeing), for the same answers. A new
    tactic each time: one tactic shared by every solver keeps what each check left in it
    (a fifth slower and larger over a large proof)."""
    return z3.Tactic("default").solver()


def _try(q: Query | Either, timeout_ms: int, seed: int) -> tuple[z3.Solver, z3.CheckSatResult]:
    solver = _new_solver()
    solver.set("timeout", timeout_ms)
    solver.set("random_seed", seed)
    assert_all(solver, [*q.facts, q.goal])
    begun = time.perf_counter()
    answer = solver.check()
    if answer == z3.sat and q.s.on_bystander(solver.model()):  # see Situation: ask again without them
        solver.add(q.s.no_bystander())
        solver.set("timeout", max(1, timeout_ms - int((time.perf_counter() - begun) * 1000)))  # one share
        answer = solver.check()
    return solver, answer


def replay(q: Query, model: z3.ModelRef) -> tuple[Counterexample, str | None]:
    """The concrete request, and a note if the evaluator or the meaning disagree with the solver."""
    w, ctx = q.world, q.ctx
    principal = "anonymous" if q.caller.anonymous else model.eval(q.caller.arn, True).as_string()
    action = q.s.actions[model.eval(ctx.action, True).as_long()]
    resource = model.eval(ctx.resource, True).as_string()
    context = {ctx.keys[k].name: v for k, v in ctx.concrete(model).items()}
    flat = {k: v[0] if len(v) == 1 else v for k, v in context.items()}
    request = Request(None if q.caller.anonymous else principal, action, resource, context=flat,
                      resource_account=w.resource_account(q.target))
    decision = evaluator(q, request).evaluate(request)
    if q.target.access_point is not None:  # the bucket's half, on the bucket's ARN
        behind = q.target.asset.arn + resource[len(q.target.access_point.arn):].replace("/object/", "/", 1)
        breq = Request(request.principal, action, behind, context=flat, resource_account=q.target.asset.account)
        pol = w.applicable(q.caller.concrete, q.target, q.star, q.s.guardrails, q.caller.kind == IAM)
        vpce = breq.context.get("aws:sourcevpce", (None,))[0]
        endpoint = w.endpoints[vpce].document if vpce in w.endpoints else None
        bucket = w.bucket_policy(q.target)
        decision = both(decision, Evaluator(
            resource=bucket and w.label(bucket), endpoint=endpoint and w.label(endpoint),
            endpoint_id=vpce if endpoint else None, rcps=[w.label(d) for d in pol.rcps]).behind_access_point(breq))
    notes = []
    if decision.allowed != z3.is_true(model.eval(q.allowed, True)):
        notes.append(f"the evaluator says {decision.effect}, the encoding the opposite")
    spec = None
    if q.uses_meaning:
        spec = Meaning(w.model).permits(Question(request.principal, action, resource, flat, q.star))
        if spec != z3.is_true(model.eval(q.s.permits, True)):
            notes.append("the spec's meaning and its encoding disagree")
    # what an IAM caller fixes is left out (slpc explain derives it); anonymous and service callers fix less
    shown = {k: v for k, v in context.items() if k.lower() not in DERIVED_KEYS or q.caller.kind != IAM}
    cex = Counterexample(principal, action, resource, shown, q.star or q.who is None, decision.allowed, spec,
                         decision.explain())
    return cex, ("; ".join(notes) + " (a bug in slpc prove: please report it)") if notes else None


def evaluator(q: Query, request: Request) -> Evaluator:
    """The evaluator set up with exactly the documents the encoding was given."""
    w = q.world
    pol = w.applicable(q.caller.concrete, q.target, q.star, q.s.guardrails, q.caller.kind == IAM)
    vpce = request.context.get("aws:sourcevpce", (None,))[0]
    endpoint = w.endpoints[vpce].document if vpce in w.endpoints else None  # closed ones too: they deny
    scps = pol.scps if request.principal_account in w.scp_accounts(q.target) else []
    label = w.label
    return Evaluator(identity=[label(d) for d in pol.identity], resource=pol.resource and label(pol.resource),
                     endpoint=endpoint and label(endpoint), endpoint_id=vpce if endpoint else None,
                     scps=[label(d) for d in scps], rcps=[label(d) for d in pol.rcps])
