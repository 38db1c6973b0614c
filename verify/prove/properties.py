"""The eight claims of `slpc prove`, each as solver queries or exact checks (see docs/prove.md).

Safety claims (1-4) give every caller `*:*` in IAM and leave the organization
guardrails out: they must hold on the account's own policies alone, so SCPs and
RCPs stay defence in depth (adding them can only deny more). A SageMaker endpoint
is the exception: it has no resource policy, so what holds its own account's `*:*`
holders to the spec is the SCP, and every claim about it applies the guardrails (the
compiler warns where none can apply, W533/W534). Completeness (5)
applies the guardrails and gives the grantee only its compiled identity policy,
so it shows the grants work as deployed. Equivalence (6) compares with the spec's
meaning without guardrails, as the differential tests do. Role trust (7) is asked
of the roles, not the assets: who obtains a role from STS rests on its trust policy
alone, who passes or changes it on the SCPs (a `*:*` holder may do both in IAM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import z3

from slpc.compiler import flow_logs
from slpc.compiler import verbs as V
from slpc.compiler.model import Key, Principal
from slpc.compiler.values import DNS_SUFFIX

from slpc.verify import security_groups as SG

from . import roles
from .symbolic_meaning import SymbolicMeaning
from .solver import (ANONYMOUS, FEDERATED, PROVED, REFUTED, SERVICE, UNKNOWN, Either, Outcome, Query, run,
                     with_and_without_star)
from .terms import conj, disj, implies, is_false, is_text, negate, text
from .world import BY_CREDENTIALS, BY_TOKEN, DATA, ENCRYPTION_SETTINGS, LOCK, PASS_ROLE, RoleTarget, Target, World


@dataclass(frozen=True)
class Property:
    number: int
    name: str
    claim: str
    queries: Callable[[World, Target], Iterator[Query | Either]]  # the queries about one part
    roles: bool = False  # asked of the roles' parts (`RoleTarget`), else of the assets'
    problems: Callable[[World], list[str]] | None = None  # what is checked outside the solver


def _callers(w: World, t: Target) -> list[str | None]:
    return w.related(t) + [None]


def _not_iam(w: World, t: Target) -> list[str]:
    """Callers that only a resource policy can let in: an anonymous one (S3 and API Gateway take
    unsigned requests, KMS none) and any AWS service principal."""
    if not w.has_resource_policy(t):
        return []
    return [SERVICE] if t.kms else [ANONYMOUS, SERVICE]


def _who(who: str | None) -> str:
    return who or "outsider"


def _on_scp(w: World, t: Target) -> bool:
    """Whether the claims about the target rest on the SCPs: it has no resource policy (a
    SageMaker endpoint), so IAM alone would let a `*:*` holder of its account in."""
    return not w.has_resource_policy(t)


def _as_called(w: World, q: Query) -> z3.BoolRef:
    """What AWS sets on every request the SCPs then read: `aws:RequestedRegion` is the region of
    the endpoint called, which for a SageMaker endpoint is its own."""
    if not _on_scp(w, q.target):
        return z3.BoolVal(True)
    return q.ctx.equals_text("aws:RequestedRegion", q.target.asset.region)


def identity_perimeter(w: World, t: Target) -> Iterator[Query]:
    if not t.actions[DATA]:
        return
    q = Query(f"outsider · {t.label}", w, t, None, t.actions[DATA], star=True, guardrails=_on_scp(w, t))
    q.goal = conj(q.allowed, _beyond_pool(q), _as_called(w, q))
    yield q
    for who in _not_iam(w, t):
        q = Query(f"{who} · {t.label}", w, t, who, t.actions[DATA], star=False, guardrails=False)
        q.goal = conj(q.allowed, _beyond_pool(q))
        if who == SERVICE and t.kms:  # the one service the spec lets in: CloudWatch Logs, for the flow logs
            q.goal = conj(q.goal, negate(q.per_action(
                lambda a: w.meaning.service_key_use(q.ctx, q.caller, t.asset, a))))
        yield q


def _beyond_pool(q: Query) -> z3.BoolRef:
    """On an API stage whose Cognito authorizer admits its callers, any caller may invoke it
    from the authorizer's networks (the pool's token, not IAM, says who): the claim is that
    nobody may otherwise. Elsewhere the claim is that nobody may at all."""
    stage = q.target.asset
    if getattr(stage, "kind", None) == "api" and stage.authorizer is not None:
        return negate(q.permits())
    return z3.BoolVal(True)


def _inside(w: World, sm: SymbolicMeaning, q: Query, action: str) -> z3.BoolRef:
    """The request comes from where a grant (or breakglass duty) of the caller lets this action in."""
    t, ctx = q.target, q.ctx
    if isinstance(t.asset, Key):  # key use only through S3, which checks the network
        via = f"s3.{t.asset.region}.{DNS_SUFFIX[w.model.deployment.partition]}"
        key = ctx.key("kms:ViaService")
        return conj(key.present, is_text(key.values[0].term, via))
    if t.asset.kind == "endpoint" and q.who in w.model.integration_roles(t.asset.name) \
            and action in V.INTEGRATION_ACTIONS:
        return z3.BoolVal(True)  # from API Gateway's network: its API's resource policy holds the networks
    services = V.ASSET_SERVICES[t.asset.kind]
    nets = {n for g in sm.grants_of(q.who, t.asset.name)
            if action in dict(V.VERBS[(t.asset.kind, g.verb)].actions) for n in g.networks}
    if t.asset.kind == "bucket" and q.who in t.asset.breakglass and action in V.S3_BREAKGLASS_ACTIONS:
        nets |= set(sm._union(t.asset))
    if t.asset.kind == "api" and t.asset.authorizer is not None:  # any caller: the pool's users' networks
        nets |= set(t.asset.authorizer.networks)
    return sm.in_networks(ctx, sorted(nets), services)


def network_perimeter(w: World, t: Target) -> Iterator[Query]:
    sm = w.meaning
    if not t.actions[DATA]:
        return
    for who in _callers(w, t):
        q = Query(f"{_who(who)} · {t.label}", w, t, who, t.actions[DATA], star=True, guardrails=_on_scp(w, t))
        q.goal = conj(q.allowed, _as_called(w, q), negate(q.per_action(lambda a: _inside(w, sm, q, a))))
        yield q


def encryption(w: World, t: Target) -> Iterator[Query]:
    sm = w.meaning
    if t.kms or t.asset.kind != "bucket" or not t.objects:
        return
    for who in _callers(w, t):
        q = Query(f"{_who(who)} · {t.label}", w, t, who, ("s3:PutObject",), star=True, guardrails=False)
        q.goal = conj(q.allowed, negate(sm.encryption_ok(q.ctx, t.asset)))
        yield q


def default_encryption_problems(w: World) -> list[str]:
    """Uploads without headers get the bucket's default: it must be SSE-KMS under the bucket's key."""
    problems = []
    for a in w.model.assets_of("bucket"):
        settings = w.settings.get((ENCRYPTION_SETTINGS, a.arn))
        rules = (settings or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        if default.get("SSEAlgorithm") != "aws:kms" or default.get("KMSMasterKeyID") != w.model.keys[a.key].arn:
            problems.append(f"{a.name}: the default encryption is not SSE-KMS with {w.model.keys[a.key].arn}"
                            f" ({ENCRYPTION_SETTINGS} {'missing' if settings is None else 'differs'})")
    return problems


def security_group_problems(w: World) -> list[str]:
    """Claim 8, decided exactly without the solver (verify/security_groups.py): the groups'
    rules are finite sets of ranges, ports and names."""
    groups, problems = [], []
    for f in w.files:
        if f.kind in SG.KINDS:
            g, unreadable = SG.read(f.path, f.name, f.kind, f.settings or {})
            groups.append(g)
            problems += unreadable
    return problems + SG.problems(w.model, groups)


def _none(w: World, t) -> Iterator[Query]:
    return iter(())


def _may_lock(t: Target, who: str | None, action: str) -> bool:
    if action == V.S3_BYPASS_GOVERNANCE:
        return who in t.asset.breakglass
    return who in t.asset.admins


def lock(w: World, t: Target) -> Iterator[Query]:
    for who in _callers(w, t) + _not_iam(w, t):
        actions = tuple(a for a in t.actions[LOCK] if not _may_lock(t, who, a))
        if actions:
            q = Query(f"{_who(who)} · {t.label}", w, t, who, actions, star=True, guardrails=_on_scp(w, t))
            q.goal = conj(q.allowed, _as_called(w, q))
            yield q


def _realistic(w: World, q: Query) -> z3.BoolRef:
    """What AWS always sets on a grantee's own requests, which the guardrails read."""
    ctx = q.ctx
    via_service = ctx.key("kms:ViaService")
    return conj(disj(*(ctx.equals_text("aws:RequestedRegion", r) for r in w.model.deployment.regions)),
                implies(via_service.present, ctx.equals_text("aws:ViaAWSService", "true")))


def completeness(w: World, t: Target) -> Iterator[Query]:
    grants = [g for a in sorted(_assets_of(w, t)) for g in w.meaning.on_asset.get(a, [])]
    if t.access_point is not None:  # through an access point, only its own grantee's grants can hold
        grants = [g for g in grants if g.principal == t.access_point.principal]
    gateways = w.model.integration_roles(t.asset.name) if getattr(t.asset, "kind", None) == "endpoint" else ()
    for who in sorted({g.principal for g in grants} | set(gateways)):
        granted = {a for g in grants if g.principal == who for a in _verb_actions(w, g, t)}
        granted |= set(V.INTEGRATION_ACTIONS) if who in gateways and not t.kms else set()
        actions = tuple(a for a in t.actions[DATA] if a in granted)
        if actions:
            q = Query(f"{who} · {t.label}", w, t, who, actions, star=False, guardrails=True)
            q.goal = conj(q.permits(), negate(q.allowed), _realistic(w, q))
            yield q
    if getattr(t.asset, "kind", None) == "api" and t.asset.authorizer is not None:
        # the pool's users: unsigned requests (their token is not an IAM signature), none locked out
        q = Query(f"{ANONYMOUS} · {t.label}", w, t, ANONYMOUS, t.actions[DATA], star=False, guardrails=True)
        q.goal = conj(q.permits(), negate(q.allowed), _realistic(w, q))
        yield q
    yield from flow_log_delivery(w, t)


def flow_log_delivery(w: World, t: Target) -> Iterator[Query]:
    """Completeness for the one service the spec lets use a key: CloudWatch Logs encrypts the
    flow-log group with it (with the guardrails; its calls to KMS come through no VPC endpoint)."""
    dest = flow_logs.destination(w.model)
    if not t.kms or not t.actions[DATA] or dest is None or dest.key != t.asset.name:
        return
    q = Query(f"{SERVICE} · {t.label}", w, t, SERVICE, t.actions[DATA], star=False, guardrails=True)
    ctx, org = q.ctx, w.model.deployment.org
    # what a service acting for the log group's account sends, if it sends these keys at all
    sent = [implies(ctx.key("aws:SourceAccount").present, ctx.equals_text("aws:SourceAccount", dest.account)),
            implies(ctx.key("aws:SourceOrgID").present,
                    ctx.equals_text("aws:SourceOrgID", org) if org else z3.BoolVal(False))]
    q.goal = conj(q.per_action(lambda a: w.meaning.service_key_use(ctx, q.caller, t.asset, a)),
                  negate(q.allowed), negate(ctx.key("aws:SourceVpce").present), *sent)
    yield q


def _assets_of(w: World, t: Target) -> set[str]:
    """The assets whose grants can hold on the target: a key part's bucket, all of an unsplit key's."""
    if t.context is not None:
        return {t.context.bucket.name} if t.context.bucket is not None else set()
    if isinstance(t.asset, Key):
        return set(w.meaning.buckets_of_key.get(t.asset.name, []))
    return {t.asset.name}


def _verb_actions(w: World, g, t: Target) -> list[str]:
    kind = w.model.assets[g.asset].kind
    return [a for a, scope in V.VERBS[(kind, g.verb)].actions if (scope == V.KEY_VIA_S3) == t.kms]


def equivalence(w: World, t: Target) -> Iterator[Query | Either]:
    """Each of the spec's roles without and with `*:*` (one query, `solver.Either`), and the outsider."""
    actions = t.actions[DATA] + t.actions[LOCK]
    for who in _callers(w, t):
        halves = []
        for star in ((True,) if who is None else (False, True)):
            label = f"{_who(who)}{' (*:*)' if star and who else ''} · {t.label}"
            q = Query(label, w, t, who, actions, star=star, guardrails=_on_scp(w, t))
            q.goal = conj(q.allowed != q.permits(), _as_called(w, q))
            halves.append(q)
        if len(halves) == 1:
            yield halves[0]
        else:
            yield from with_and_without_star(f"{_who(who)} (with and without *:*) · {t.label}", *halves)


def role_trust(w: World, t: Target | RoleTarget) -> Iterator[Query]:
    """Obtaining a role (without guardrails: its trust policy must hold alone), or passing and
    changing an account's roles (with the SCPs: in IAM a `*:*` holder of the account could do
    both). Nothing is asked about an asset."""
    if not isinstance(t, RoleTarget):
        return
    if t.sts:
        for who, actions in ((None, BY_CREDENTIALS), (SERVICE, BY_CREDENTIALS), (FEDERATED, BY_TOKEN)):
            q = Query(f"{_who(who)} · {t.label}", w, t, who, actions, star=True, guardrails=False)
            q.goal = conj(q.allowed, negate(roles.obtains(w.model, t.role, q.ctx, q.caller)))
            if not is_false(q.goal):  # else no statement of the trust policy reaches such a caller
                yield q
        return
    q = Query(f"outsider · {t.label}", w, t, None, t.actions[LOCK], star=True, guardrails=True)
    passing = _naming(q, t, lambda role: roles.passes(w.model, role, q.ctx, q.caller))
    changing = _naming(q, t, lambda role: roles.changes(w.model, role, q.caller))
    q.goal = conj(q.allowed, negate(q.per_action(lambda a: passing if a == PASS_ROLE else changing)))
    yield q


def _naming(q: Query, t: RoleTarget, may: Callable[[Principal], z3.BoolRef]) -> z3.BoolRef:
    """`may` of the role the request names (the part asks about several)."""
    return disj(*(conj(is_text(q.ctx.resource, role.arn), may(role)) for role in t.roles))


PROPERTIES: tuple[Property, ...] = (
    Property(1, "identity perimeter", "no principal outside the spec (any IAM role or user, any account, holding *:*; "
             "an anonymous caller; an AWS service principal) can perform a data action on a model asset "
             "(a Cognito-authorized API stage: but from its authorizer's networks)",
             identity_perimeter),
    Property(2, "network perimeter", "no data request from outside the networks of the caller's grants is allowed "
             "(key use: only through S3; an API's integration role invokes its backend from API Gateway; a "
             "Cognito-authorized stage: its authorizer's networks)",
             network_perimeter),
    Property(3, "encryption", "no object is written to a model bucket other than with SSE-KMS under the "
             "bucket's key", encryption, problems=default_encryption_problems),
    Property(4, "lock", "nobody but breakglass can bypass governance retention; nobody but admins can change a "
             "perimeter policy", lock),
    Property(5, "completeness", "every granted tuple is allowed (with the organization guardrails applied)",
             completeness),
    Property(6, "equivalence", "the policies allow exactly what the spec's meaning allows", equivalence),
    Property(7, "role trust", "for each role whose trust the spec declares, only its declared ways obtain it "
             "(sts:AssumeRole, TagSession, AssumeRoleWithWebIdentity, AssumeRoleWithSAML), only its declared "
             "passers pass it, to its declared services, and only its admins change it (with the SCPs)",
             role_trust, roles=True),
    Property(8, "security groups", "each network's endpoint group admits exactly its declared clients (and its "
             "workload group), on TCP 443 only, and lets nothing out; each workload group lets out only TCP 443 to "
             "its network's endpoint group and S3 gateway, and all traffic among its own members; no rule admits "
             "0.0.0.0/0 or ::/0; each endpoint group is on exactly its network's interface endpoints",
             _none, problems=security_group_problems),
)


@dataclass
class Result:
    """One property's answer: proved only if every query is; a refutation carries its request."""

    prop: Property
    outcomes: list[Outcome]
    problems: list[str]  # claims checked outside the solver (default encryption settings, security groups)
    assumptions: tuple[str, ...] = ()  # what the universe assumes beyond AWS's rules (world.assumptions)

    @property
    def verdict(self) -> str:
        verdicts = {o.verdict for o in self.outcomes}
        if REFUTED in verdicts or self.problems:
            return REFUTED
        return UNKNOWN if UNKNOWN in verdicts else PROVED

    @property
    def seconds(self) -> float:
        return sum(o.seconds for o in self.outcomes)

    @property
    def counterexample(self) -> Outcome | None:
        return next((o for o in self.outcomes if o.verdict == REFUTED), None)


def prove(world: World, timeout_ms: int = 10_000, numbers: Iterable[int] | None = None,
          progress: Callable[[int, int], None] | None = None, jobs: int = 1) -> list[Result]:
    """Run the chosen properties (all by default) on `world`.

    Asset part by asset part, so the properties share each caller's terms and the
    memory they take stays bounded on large deployments; `progress(done, total)`
    after each part. With `jobs` > 1, that many forked processes take every jobs-th
    part each (the parts are independent); outcomes are merged back in part order,
    so the results are those of one process, timings aside.
    """
    wanted = set(numbers) if numbers is not None else None
    props = [p for p in PROPERTIES if wanted is None or p.number in wanted]
    results = [Result(p, [], p.problems(world) if p.problems else [],
                      world.assumptions + (world.role_assumptions if p.roles else ())) for p in props]
    parts = _outcomes_in_workers(world, props, timeout_ms, jobs, progress) if jobs > 1 and len(world.parts) > 1 \
        else _outcomes(world, props, range(len(world.parts)), timeout_ms, progress)
    for _, per_property in sorted(parts, key=lambda part: part[0]):
        for r, outcomes in zip(results, per_property):
            r.outcomes += outcomes
    return results


def _outcomes(world: World, props: list[Property], indices: Iterable[int], timeout_ms: int,
              progress: Callable[[int, int], None] | None = None) -> list[tuple[int, list[list[Outcome]]]]:
    """(part index, each property's outcomes on it) for these parts (`World.parts`)."""
    out = []
    for done, i in enumerate(indices, 1):
        t = world.parts[i]
        out.append((i, [[run(q, timeout_ms) for q in p.queries(world, t)] if p.roles == isinstance(t, RoleTarget)
                        else [] for p in props]))
        world.situations.clear()
        world.requests.clear()
        if progress is not None:
            progress(done, len(world.parts))
    return out


_FORKED: tuple | None = None  # what a forked worker proves: (world, properties, timeout)


def _worker(share: tuple[int, int]) -> list[tuple[int, list[list[Outcome]]]]:
    world, props, timeout_ms = _FORKED
    start, step = share
    return _outcomes(world, props, range(start, len(world.parts), step), timeout_ms)


def _outcomes_in_workers(world: World, props: list[Property], timeout_ms: int, jobs: int,
                         progress: Callable[[int, int], None] | None) -> list[tuple[int, list[list[Outcome]]]]:
    """`_outcomes` of every target, from `jobs` forked processes (each inherits the world,
    so nothing large is pickled; only outcomes come back)."""
    import multiprocessing

    global _FORKED
    _FORKED = (world, props, timeout_ms)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            out = []
            for part in pool.imap_unordered(_worker, [(j, jobs) for j in range(jobs)]):
                out += part
                if progress is not None:
                    progress(len(out), len(world.parts))
            return out
    finally:
        _FORKED = None
