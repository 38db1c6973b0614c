"""Deployed against compiled policies, by meaning (pure: no AWS).

Two policy documents are equivalent when the evaluator gives the same decision on
every request of a finite probe set derived from both documents: the principals,
actions and resources either mentions (wildcards instantiated), each with contexts
that satisfy one statement's conditions on top of a "benign" context that escapes
every Deny, and every single-key variation of those contexts over the edge values
the conditions name (a CIDR's first address and an outside one, an instant and the
second before/after it, a number and its neighbours, present/absent...).

Resource policies are asked twice: for a caller holding only what the resource
policy gives, and for a same-account caller that also holds `*:*` in IAM (so a
removed perimeter Deny is visible). Identity policies are asked for their role,
VPC endpoint policies for a `*:*` holder calling through that endpoint.

A reordered or reformatted document yields the same compiled statements, hence the
same decisions: in sync. Every difference is reported as a `Drift` with a concrete
request, the decisions on both sides and the statements (Sid) that decided them.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from slpc.policy.kinds import RESOURCE_KINDS
from slpc.policy.document import PolicyDocument, Principal, Statement
from slpc.verify.evaluate import Decision, Evaluator, compile_policy
from slpc.policy.matching import has_wildcard, wildcard_regex
from slpc.verify.request import FEDERATED_PREFIX, Request

EXTRA, MISSING = "extra-access", "missing-access"
WEAKENED = "weakened-deny"  # a Deny of the spec is gone, though no Allow uses the gap today
ABSENT = None
OUTSIDE_ACCOUNT = "999999999999"
OUTSIDE_IP = "slpc:outside-ip"  # replaced by an address outside every CIDR of both documents
_OUTSIDE_CANDIDATES = ("198.18.0.1", "100.64.0.1", "203.0.113.254", "192.0.2.1", "9.9.9.9", "2001:db8::1")
_FILLED = {"aws:principalarn", "aws:principalaccount", "aws:principalisawsservice", "aws:resourceaccount",
           "aws:principalservicename", "aws:username"}
# Keys that exempt AWS services from a Deny: escaping a Deny through them would hide
# everything the Deny guards, so the benign context escapes through other keys first.
_EXEMPTIONS = {"aws:viaawsservice", "aws:principalisawsservice", "aws:calledvia", "aws:calledviafirst",
               "aws:calledvialast"}
_STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",), sid="slpc-probe-star"),))
_CAP = 6  # values kept per pool (deterministic, evenly spaced)

RESOURCE_POLICY_KINDS = RESOURCE_KINDS
IDENTITY_KIND = "iam-identity-policy"
ENDPOINT_KIND = "vpc-endpoint-policy"
ORG_KINDS = {"scp", "rcp"}  # guardrails: evaluated for a `*:*` holder, with AWS's managed allow-all
_FULL_ACCESS = (Statement("Allow", actions=("*",), resources=("*",), sid="FullAWSAccess"),)
_OPEN = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",), principal=Principal.any(),
                                  sid="slpc-probe-open"),))


@dataclass(frozen=True)
class Probe:
    principal: str | None
    action: str
    resource: str
    context: tuple[tuple[str, str], ...]
    star: bool = False  # the caller also holds `*:*` in IAM

    def to_json(self) -> dict:
        return {"principal": self.principal or "*anonymous*", "action": self.action, "resource": self.resource,
                "context": dict(self.context), "caller_holds_star": self.star}

    def __str__(self) -> str:
        ctx = ", ".join(f"{k}={v}" for k, v in self.context) or "no context"
        star = " (caller also holds *:* in IAM)" if self.star else ""
        return f"{self.principal or 'anonymous'} {self.action} {self.resource} [{ctx}]{star}"


@dataclass(frozen=True)
class Drift:
    """One way the deployed document differs from the compiled one."""

    direction: str  # EXTRA: deployed allows, compiled does not; MISSING: the reverse
    probe: Probe
    deployed: Decision
    compiled: Decision
    sids: tuple[str, ...] = field(default=())  # the statements that decided, both sides

    @property
    def message(self) -> str:
        if self.direction == WEAKENED:
            return (f"deployed policy no longer denies a request the spec denies: {self.probe}; denied by "
                    f"{_refs(self.compiled)} in the spec (no Allow of the deployed policy grants it today: "
                    f"defence in depth is lost)")
        if self.direction == EXTRA:
            return (f"deployed policy allows a request the spec does not: {self.probe}; "
                    f"allowed by {_refs(self.deployed)}, compiled: {self.compiled.effect} ({_refs(self.compiled)})")
        return (f"deployed policy denies a request the spec allows: {self.probe}; "
                f"deployed: {self.deployed.effect} ({_refs(self.deployed)}), compiled allows by {_refs(self.compiled)}")

    def to_json(self) -> dict:
        return {"direction": self.direction, "request": self.probe.to_json(), "message": self.message,
                "deployed": {"effect": self.deployed.effect, "statements": [s.sid for s in self.deployed.statements]},
                "compiled": {"effect": self.compiled.effect, "statements": [s.sid for s in self.compiled.statements]},
                "sids": list(self.sids)}


def _refs(d: Decision) -> str:
    names = [s.sid or f"statement #{s.index}" for s in d.statements if not (s.sid or "").startswith("slpc-probe")]
    return ", ".join(names) if names else d.reason


# --------------------------------------------------------------------------- #
# Instantiating patterns and condition values


def instantiate(pattern: str) -> str:
    """A concrete string matching an IAM glob (`*` -> `x`, `?` -> `x`, variables dropped)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("${", i) and "}" in pattern[i:]:
            i = pattern.index("}", i) + 1
            out.append("x")
            continue
        out.append("x" if pattern[i] in "*?" else pattern[i])
        i += 1
    return "".join(out)


def _base(op: str) -> tuple[str, bool]:
    op = op.split(":", 1)[1] if op.lower().startswith(("foranyvalue:", "forallvalues:")) else op
    if op.endswith("IfExists"):
        return op[: -len("IfExists")], True
    return op, False


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _values_for(op: str, values: Sequence[str], want: bool) -> list[str | None]:
    """Context values (None = key absent) that make `op` true (want) or false."""
    base, if_exists = _base(op)
    neg = "Not" in base
    b = base.replace("Not", "")
    out: list[str | None] = []
    if b == "Null":
        # Null true <=> key absent.
        absent = values and values[0].lower() == "true"
        return [ABSENT] if absent == want else ["slpc-present"]
    v0 = values[0] if values else ""
    if b.startswith(("String", "Arn")):
        match, miss = instantiate(v0), ("arn:aws:iam::999999999999:role/slpc-outsider" if b.startswith("Arn")
                                        else "slpc-other")
        out = [match if want != neg else miss]
    elif b == "IpAddress":
        try:
            net = ipaddress.ip_network(v0, strict=False)
            inside = str(net.network_address)
        except ValueError:
            inside = v0
        out = [inside if want != neg else OUTSIDE_IP]
    elif b.startswith("Date"):
        d = _date(v0)
        if d is None:
            return [ABSENT]
        sec = timedelta(seconds=1)
        truth = {"DateEquals": (d, d + sec), "DateLessThan": (d - sec, d), "DateLessThanEquals": (d, d + sec),
                 "DateGreaterThan": (d + sec, d), "DateGreaterThanEquals": (d, d - sec)}.get(b + ("" if not neg else ""))
        if b == "DateEquals" and neg:
            truth = (d + sec, d)
        if truth is None:
            return [ABSENT]
        out = [_iso(truth[0] if want else truth[1])]
    elif b.startswith("Numeric"):
        try:
            n = float(v0)
        except ValueError:
            return [ABSENT]
        t = {"NumericEquals": (n, n + 1), "NumericLessThan": (n - 1, n), "NumericLessThanEquals": (n, n + 1),
             "NumericGreaterThan": (n + 1, n), "NumericGreaterThanEquals": (n, n - 1)}.get(b)
        if b == "NumericEquals" and neg:
            t = (n + 1, n)
        if t is None:
            return [ABSENT]
        pick = t[0] if want else t[1]
        out = [str(int(pick)) if pick == int(pick) else str(pick)]
    elif b == "Bool":
        truthy = v0.lower()
        out = [truthy if want else ("false" if truthy == "true" else "true")]
    elif b == "BinaryEquals":
        out = [v0 if want else "c2xwYw=="]
    else:
        return [ABSENT]
    if if_exists and want:
        out.append(ABSENT)
    return out


def _edge_values(docs: Iterable[PolicyDocument]) -> dict[str, list[str | None]]:
    edges: dict[str, list[str | None]] = {}
    for doc in docs:
        for st in doc.statements:
            for c in st.conditions:
                key = c.key.lower()
                if key in _FILLED:
                    continue
                bucket = edges.setdefault(key, [ABSENT])
                for want in (True, False):
                    for v in _values_for(c.operator, c.values, want):
                        if v not in bucket:
                            bucket.append(v)
    return edges


# --------------------------------------------------------------------------- #
# Probe generation


def _spread(values: Sequence, cap: int = _CAP) -> list:
    vals = list(dict.fromkeys(values))
    if len(vals) <= cap:
        return vals
    step = len(vals) / cap
    return [vals[int(i * step)] for i in range(cap)]


def _principals_of(st: Statement) -> list[str | None]:
    out: list[str | None] = []
    for p in (st.principal, st.not_principal):
        if p is None:
            continue
        if p.wildcard:
            out.append(None)
        for v in p.values("AWS"):
            if v == "*":
                out.append(None)
            elif v.isdigit() and len(v) == 12:
                out += [f"arn:aws:iam::{v}:root", f"arn:aws:iam::{v}:role/slpc-probe"]
            elif v.endswith(":root"):
                out += [v, v.replace(":root", ":role/slpc-probe")]
            else:
                out.append(instantiate(v))
        out += list(p.values("Service"))
        out += [v if v.startswith("arn:") else FEDERATED_PREFIX + v for v in p.values("Federated")]
    if any(c.key.lower() in ("aws:principalisawsservice", "aws:sourceaccount") for c in st.conditions):
        out += sorted({f"{a.split(':')[0].lower()}.amazonaws.com" for a in st.actions if ":" in a})[:2]
    for c in st.conditions:
        if c.key.lower() == "aws:principalarn":
            out += [instantiate(v) for v in c.values]
    return out


def _literal_actions(docs: Sequence[PolicyDocument]) -> list[str]:
    acts = []
    for doc in docs:
        for st in doc.statements:
            acts += [a for a in st.actions + st.not_actions if not has_wildcard(a)]
    return sorted(set(acts), key=str.lower)


def _actions_of(st: Statement, literal: Sequence[str]) -> list[str]:
    import fnmatch
    out: list[str] = []
    for a in st.actions + st.not_actions:
        if has_wildcard(a):
            hits = [x for x in literal if fnmatch.fnmatchcase(x.lower(), a.lower())]
            out += _spread(hits) + [instantiate(a)]
        else:
            out.append(a)
    if st.not_actions:
        out.append("slpcprobe:OtherAction")
    return out


def _own_resources(st: Statement, target: str) -> list[str]:
    out: list[str] = []
    for r in st.resources + st.not_resources:
        if r == "*":
            out.append(target)
        else:
            out.append(instantiate(r))
            if r.endswith("*"):
                out.append(instantiate(r[:-1]) if r[:-1] else target)
    return out or [target]


def _resources_of(st: Statement, target: str, pool: Sequence[str]) -> list[str]:
    """The statement's own resources, then those of other statements its patterns cover."""
    own = _own_resources(st, target)
    pats = [wildcard_regex(r) for r in st.resources + st.not_resources if has_wildcard(r)]
    return own + [r for r in pool if r not in own and any(p.fullmatch(r) for p in pats)]


def _benign(docs: Sequence[PolicyDocument]) -> dict[str, str | None]:
    """A context that escapes every Deny that can be escaped by one of its conditions."""
    ctx: dict[str, str | None] = {}
    for doc in docs:
        for st in doc.statements:
            if st.effect != "Deny" or not st.conditions:
                continue
            if any(c.key.lower() in ctx and ctx[c.key.lower()] in _values_for(c.operator, c.values, False)
                   for c in st.conditions):
                continue
            for c in sorted(st.conditions, key=lambda c: c.key.lower() in _EXEMPTIONS):
                key = c.key.lower()
                if key in ctx or key in _FILLED:
                    continue
                ctx[key] = _values_for(c.operator, c.values, False)[0]
                break
    return ctx


def _satisfying(st: Statement, base: dict[str, str | None]) -> dict[str, str | None]:
    ctx = dict(base)
    for c in st.conditions:
        key = c.key.lower()
        if key not in _FILLED:
            ctx[key] = _values_for(c.operator, c.values, True)[0]
    return ctx


def _contexts(st: Statement, benign: dict, edges: dict[str, list],
              own_only: bool) -> list[tuple[tuple[str, str], ...]]:
    base = _satisfying(st, benign) if st.effect == "Allow" else dict(benign)
    variants = [base, _satisfying(st, benign)]
    own = {c.key.lower() for c in st.conditions}
    for key, vals in edges.items():
        if own_only and key not in own:
            continue
        for v in vals:
            if base.get(key, ABSENT) != v:
                variants.append({**base, key: v})
    out = []
    for ctx in variants:
        t = tuple(sorted((k, v) for k, v in ctx.items() if v is not None))
        if t not in out:
            out.append(t)
    return out


def _outside_ip(docs: Sequence[PolicyDocument]) -> str:
    nets = []
    for doc in docs:
        for st in doc.statements:
            for c in st.conditions:
                if "IpAddress" in c.operator:
                    for v in c.values:
                        try:
                            nets.append(ipaddress.ip_network(v, strict=False))
                        except ValueError:
                            pass
    for cand in _OUTSIDE_CANDIDATES:
        ip = ipaddress.ip_address(cand)
        if not any(ip.version == n.version and ip in n for n in nets):
            return cand
    return _OUTSIDE_CANDIDATES[-1]


def probes(deployed: PolicyDocument, compiled: PolicyDocument, kind: str, target: str,
           account: str) -> list[Probe]:
    """The finite request set on which the two documents are compared."""
    docs = (compiled, deployed)
    outside = _outside_ip(docs)
    edges = _edge_values(docs)
    benign = _benign(docs)
    literal = _literal_actions(docs)
    all_principals: list[str | None] = []
    for doc in docs:
        for st in doc.statements:
            all_principals += _principals_of(st)
    all_principals += [f"arn:aws:iam::{account}:role/slpc-probe", f"arn:aws:iam::{OUTSIDE_ACCOUNT}:role/slpc-probe"]
    all_principals = list(dict.fromkeys(all_principals))
    all_resources = list(dict.fromkeys(r for doc in docs for st in doc.statements for r in _own_resources(st, target)))
    out: dict[Probe, None] = {}
    for doc in docs:
        for st in doc.statements:
            if kind == IDENTITY_KIND:
                principals: list[str | None] = [target]
            else:
                own = _principals_of(st)
                # a named principal may be the exception (ArnNotEquals): ask someone else too
                principals = own + all_principals[-2:] if own and None not in own else all_principals
                principals = _spread(principals, 12)
            actions = _spread(_actions_of(st, literal), 8)
            resources = _spread(_resources_of(st, target if kind != ENDPOINT_KIND else "*", all_resources), 6)
            if kind == ENDPOINT_KIND:
                resources = [r for r in resources if r != "*"] or ["arn:aws:s3:::slpc-probe-bucket/x"]
            combos = itertools.chain(
                itertools.product(principals, actions, resources, _contexts(st, benign, edges, True)),
                itertools.product(principals[:2], actions[:2], resources[:1], _contexts(st, benign, edges, False)))
            for p, a, r, c in combos:
                if any(v == OUTSIDE_IP for _, v in c):
                    c = tuple((k, outside if v == OUTSIDE_IP else v) for k, v in c)
                if kind == ENDPOINT_KIND:
                    c = tuple(sorted({**dict(c), "aws:sourcevpce": target}.items()))
                stars = (False, True) if kind in RESOURCE_POLICY_KINDS and p is not None else (kind != IDENTITY_KIND,)
                for star in stars:
                    out[Probe(p, a, r, c, star)] = None
    return list(out)


# --------------------------------------------------------------------------- #
# Comparison


class _Side:
    def __init__(self, doc: PolicyDocument, kind: str, target: str, label: str):
        self.kind, self.target = kind, target
        if kind == IDENTITY_KIND:
            self.policy = compile_policy(doc, "identity", label)
        elif kind == ENDPOINT_KIND:
            self.policy = compile_policy(doc, "endpoint", label)
        elif kind == "scp":  # deny-only parts under the FullAWSAccess every target keeps attached
            self.policy = compile_policy(PolicyDocument(doc.statements + _FULL_ACCESS), "scp", label)
        elif kind == "rcp":  # RCPFullAWSAccess is implicit in the evaluator
            self.policy = compile_policy(doc, "rcp", label)
        else:
            self.policy = compile_policy(doc, "resource", label)
        self.star = compile_policy(_STAR, "identity", "slpc-probe-star")
        self._ev: dict[bool, Evaluator] = {}

    def decide(self, p: Probe, account: str) -> Decision:
        # KMS honours IAM policies only where the key policy delegates to the account:
        # identity and endpoint policies are asked about keys under such a key policy.
        kms = p.resource.split(":")[2:3] == ["kms"] and self.kind in (IDENTITY_KIND, ENDPOINT_KIND)
        key = (p.star, kms, p.principal if kms and self.kind == ENDPOINT_KIND else None)
        ev = self._ev.get(key)
        if ev is None:
            star = [self.star] if p.star else []
            delegate = _delegate(account if self.kind == IDENTITY_KIND else (p.principal or ":::::").split(":")[4]) \
                if kms else None
            if self.kind == IDENTITY_KIND:
                ev = Evaluator(identity=[self.policy], resource=delegate)
            elif self.kind in ORG_KINDS:  # everything else allows: only the guardrail decides
                ev = Evaluator(identity=star, resource=_OPEN,
                               **({"scps": [self.policy]} if self.kind == "scp" else {"rcps": [self.policy]}))
            elif self.kind == ENDPOINT_KIND:
                ev = Evaluator(identity=star, endpoint=self.policy, endpoint_id=self.target, resource=delegate)
            else:
                ev = Evaluator(identity=star, resource=self.policy)
            self._ev[key] = ev
        # An identity policy alone is asked as if the resource trusted the caller; an
        # endpoint policy for resources of the caller's account (it filters, others decide).
        owner = p.principal.split(":")[4] if self.kind == ENDPOINT_KIND and (p.principal or "").startswith("arn:") \
            else account
        req = Request(p.principal, p.action, p.resource, context=dict(p.context), resource_account=owner)
        return ev.evaluate(req)


def _delegate(account: str):
    """A key policy that lets the account's IAM policies decide (AWS's default key policy)."""
    return compile_policy(PolicyDocument((Statement("Allow", actions=("kms:*",), resources=("*",),
                                                    principal=Principal.aws(f"arn:aws:iam::{account}:root"),
                                                    sid="slpc-probe-key-delegation"),)), "resource", "key policy")


def _sids(*decisions: Decision) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.sid for d in decisions for s in d.statements
                               if s.sid and not s.sid.startswith("slpc-probe")))


def model_probes(questions: Sequence, art) -> list[Probe]:
    """Those of the spec's edge requests (`slpc.verify.edges.questions(model)`) that
    concern artifact `art`, as probes."""

    def mine(q) -> bool:
        if art.kind == IDENTITY_KIND:
            return q.principal == art.target
        if art.kind == ENDPOINT_KIND:
            return q.context.get("aws:SourceVpce") == art.target
        if art.kind == "apigateway-resource-policy":
            return q.resource.split(":")[0:1] == ["arn"] and f":{art.target.rsplit('/', 1)[1]}/" in q.resource
        if art.kind in ORG_KINDS:
            return q.principal is not None and q.star
        return q.resource == art.target or q.resource.startswith(art.target + "/")

    out = []
    for q in questions:
        if mine(q):
            ctx = tuple(sorted((k.lower(), v) for k, v in q.context.items()))
            out.append(Probe(q.principal, q.action, q.resource, ctx, q.star))
    return out


def _denies_under_open(doc: PolicyDocument) -> PolicyDocument:
    return PolicyDocument(tuple(st for st in doc.statements if st.effect == "Deny") + _OPEN.statements)


@dataclass(frozen=True)
class NotShown:
    """The drift groups of one direction beyond `compare`'s limit: counted, so that a
    report never reads as if the shown counterexamples were all there is."""

    direction: str
    count: int  # >= 1

    @property
    def message(self) -> str:
        return (f"... and {self.count} more group{'s' if self.count > 1 else ''} of {_NOUNS[self.direction]} "
                f"on this policy not shown")


_NOUNS = {EXTRA: "extra access", WEAKENED: "weakened denies", MISSING: "missing access"}
DIRECTIONS = (EXTRA, WEAKENED, MISSING)  # the order drifts are listed in


def compare(deployed: PolicyDocument, compiled: PolicyDocument, kind: str, target: str, account: str,
            limit: int = 5, extra: Iterable[Probe] = ()) -> list[Drift]:
    """Drifts of `deployed` from `compiled`, at most `limit` per direction, one per
    (direction, statements) group, in a deterministic order; [] means in sync. The
    groups left out are counted by `compare_counted`."""
    return [x for x in compare_counted(deployed, compiled, kind, target, account, limit, extra)
            if isinstance(x, Drift)]


def compare_counted(deployed: PolicyDocument, compiled: PolicyDocument, kind: str, target: str, account: str,
                    limit: int = 5, extra: Iterable[Probe] = ()) -> list[Drift | NotShown]:
    """`compare`'s drifts, each direction's followed by a `NotShown` when more than
    `limit` of its groups differ: what a report of the comparison lists. `extra` adds
    probes to those derived from the two texts (the spec's edges: `model_probes`).

    Resource policies are compared a second time with only their Deny statements
    under an allow-everything statement: a Deny that is gone while another
    statement still happens to cover the gap is a `weakened-deny` drift."""
    requests = list(dict.fromkeys(probes(deployed, compiled, kind, target, account) + list(extra)))
    groups = _differences(deployed, compiled, kind, target, account, requests)
    if kind in RESOURCE_POLICY_KINDS:
        seen = {sid for direction, sids in groups if direction == EXTRA for sid in sids}
        weak = _differences(_denies_under_open(deployed), _denies_under_open(compiled), kind, target, account,
                            requests)
        for (direction, sids), x in weak.items():
            if direction == EXTRA and not set(sids) <= seen:  # not already reported as extra access
                groups[(WEAKENED, sids)] = Drift(WEAKENED, x.probe, x.deployed, x.compiled, sids)
    out: list[Drift | NotShown] = []
    for direction in DIRECTIONS:
        drifts = sorted((x for x in groups.values() if x.direction == direction),
                        key=lambda x: (x.sids, str(x.probe)))
        out += drifts[:limit]
        if len(drifts) > limit:
            out.append(NotShown(direction, len(drifts) - limit))
    return out


def _differences(deployed: PolicyDocument, compiled: PolicyDocument, kind: str, target: str, account: str,
                 requests: Sequence[Probe]) -> dict[tuple, Drift]:
    """The first request of each (direction, deciding statements) group on which the two differ."""
    dep = _Side(deployed, kind, target, "deployed")
    com = _Side(compiled, kind, target, "compiled")
    groups: dict[tuple, Drift] = {}
    for p in requests:
        d, c = dep.decide(p, account), com.decide(p, account)
        if d.allowed == c.allowed:
            continue
        direction = EXTRA if d.allowed else MISSING
        sids = _sids(d, c)
        if (direction, sids) not in groups:
            groups[(direction, sids)] = Drift(direction, p, d, c, sids)
    return groups
