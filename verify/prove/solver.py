"""Solver queries: build one, run it with a timeout, read a counterexample back.

A query asks "is there a request that breaks the claim?": unsat proves the claim
for every request of the query's universe; sat gives a request, which is then
replayed through the evaluator (`slpc.verify.evaluate`) and the spec's meaning
(`slpc.verify.meaning`) and reported only if they agree with the solver; a
timeout, or a replay that disagrees, answers "unknown" — never "proved".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from slpc.verify.evaluate import Evaluator
from slpc.verify.meaning import Meaning, Question
from slpc.verify.request import Request

from .context import Caller, Context
from .encode import allowed
from .meaning import SymbolicMeaning
from .world import World, Target

PROVED, REFUTED, UNKNOWN = "proved", "refuted", "unknown"
DERIVED_KEYS = {"aws:principalarn", "aws:principalaccount", "aws:principalisawsservice", "aws:resourceaccount"}


@dataclass
class Query:
    """One question to the solver about one caller and one part of one asset."""

    label: str
    world: World
    target: Target
    who: str | None  # spec principal name; None: the outsider
    actions: tuple[str, ...]
    star: bool
    guardrails: bool
    ctx: Context = field(init=False)
    caller: Caller = field(init=False)
    allowed: z3.BoolRef = field(init=False)
    goal: z3.BoolRef | None = None  # satisfiable exactly when the claim fails
    uses_meaning: bool = False
    permits_term: z3.BoolRef | None = None

    def __post_init__(self) -> None:
        w, m = self.world, self.world.model
        self.ctx = ctx = Context(w.types)
        if self.who is None:
            self.caller = ctx.outsider(m.deployment.partition, [p.arn for p in m.principals.values()])
        else:
            p = m.principals[self.who]
            self.caller = ctx.caller(p.arn, p.account, self.who)
        account = w.resource_account(self.target)
        ctx.fix_caller(self.caller, account)
        ctx.facts += [self.target.resource(ctx), ctx.action >= 0, ctx.action < len(self.actions)]
        pol = w.applicable(self.caller.concrete, self.target, self.star, self.guardrails)
        scp_applies = z3.Or(*(self.caller.account == z3.StringVal(f.account) for f in w.scps))
        self.allowed = allowed(ctx, pol, self.actions, self.caller, self.caller.account == z3.StringVal(account),
                               scp_applies)

    def per_action(self, term) -> z3.BoolRef:
        """`term(action)` for the query's action (a term or a Python bool per action)."""
        return z3.Or(*(z3.And(self.ctx.action == i, z3.BoolVal(t) if isinstance(t, bool) else t)
                       for i, t in ((i, term(a)) for i, a in enumerate(self.actions))))

    def permits(self) -> z3.BoolRef:
        self.uses_meaning = True
        sm = SymbolicMeaning(self.world.model)
        self.permits_term = self.per_action(lambda a: sm.permits(self.ctx, self.caller, a, self.target.asset, self.star))
        return self.permits_term


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


def run(q: Query, timeout_ms: int) -> Outcome:
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*q.ctx.facts, q.goal)
    start = time.perf_counter()
    answer = solver.check()
    seconds = time.perf_counter() - start
    if answer == z3.unsat:
        return Outcome(q.label, PROVED, seconds)
    if answer == z3.unknown:
        return Outcome(q.label, UNKNOWN, seconds, note=f"solver: {solver.reason_unknown()}")
    cex, note = replay(q, solver.model())
    return Outcome(q.label, REFUTED if note is None else UNKNOWN, seconds, cex, note)


def replay(q: Query, model: z3.ModelRef) -> tuple[Counterexample, str | None]:
    """The concrete request, and a note if the evaluator or the meaning disagree with the solver."""
    w, ctx = q.world, q.ctx
    principal = model.eval(q.caller.arn, True).as_string()
    action = q.actions[model.eval(ctx.action, True).as_long()]
    resource = model.eval(ctx.resource, True).as_string()
    context = {ctx.keys[k].name: v for k, v in ctx.concrete(model).items()}
    flat = {k: v[0] if len(v) == 1 else v for k, v in context.items()}
    request = Request(principal, action, resource, context=flat, resource_account=w.resource_account(q.target))
    decision = evaluator(q, request).evaluate(request)
    notes = []
    if decision.allowed != z3.is_true(model.eval(q.allowed, True)):
        notes.append(f"the evaluator says {decision.effect}, the encoding the opposite")
    spec = None
    if q.uses_meaning:
        spec = Meaning(w.model).permits(Question(principal, action, resource, flat, q.star))
        if spec != z3.is_true(model.eval(q.permits_term, True)):
            notes.append("the spec's meaning and its encoding disagree")
    shown = {k: v for k, v in context.items() if k.lower() not in DERIVED_KEYS}
    cex = Counterexample(principal, action, resource, shown, q.star or q.who is None, decision.allowed, spec,
                         decision.explain())
    return cex, ("; ".join(notes) + " (a bug in slpc prove: please report it)") if notes else None


def evaluator(q: Query, request: Request) -> Evaluator:
    """The evaluator set up with exactly the documents the encoding was given."""
    w = q.world
    pol = w.applicable(q.caller.concrete, q.target, q.star, q.guardrails)
    vpce = request.context.get("aws:sourcevpce", (None,))[0]
    endpoint = pol.endpoints.get(vpce) if vpce else None
    scps = pol.scps if any(f.account == request.principal_account for f in w.scps) else []
    return Evaluator(identity=pol.identity, resource=pol.resource, endpoint=endpoint,
                     endpoint_id=vpce if endpoint else None, scps=scps, rcps=pol.rcps)
