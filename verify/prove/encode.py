"""Policy documents -> one Z3 term: "AWS allows this symbolic request".

Rule for rule the evaluator's (`slpc.verify.evaluate`, whose docstring cites
AWS): wildcard patterns become regular expressions (`*` any run, `?` one
character; within an ARN component for `ArnLike`), conditions follow the
missing-key, `...IfExists`, `Null`, negation and set-operator rules of
`slpc.verify.conditions`, and the combination is: an explicit Deny anywhere
wins; every SCP and an applying VPC endpoint policy must allow; then same
account, the resource policy naming the caller or the identity policy allows;
cross account, both; for a KMS key, the key policy must name the caller or its
account, and so must a role's trust policy for STS. Callers are IAM roles and
users without permissions boundaries or session policies (the spec's roles, and
the outsider), so "the role ARN" and "the session" reach equally far; anonymous,
AWS service and (for STS) federated callers are let in by a resource policy only.

Actions are concrete per query (an index into the query's action list), so
action patterns are matched here in Python, case-insensitively; tests the
encoding cannot state exactly (policy variables, `BinaryEquals`,
`...IgnoreCase`) become free truth values (see `Context.fresh`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import z3

from slpc.policy.document import VERSION, Condition, PolicyDocument, Statement
from slpc.verify.conditions import compile_condition, parse_date, parse_operator
from slpc.verify.evaluate import _Principals
from slpc.policy.matching import has_wildcard, wildcard_match

from .context import BOOL, DATE, FEDERATED, IAM, IP, NUM, Caller, Context, Key, Value, bool_index
from .terms import FALSE, TRUE, _id, boolean, conj, disj, implies, is_false, is_text, negate

_ANY = z3.AllChar(z3.ReSort(z3.StringSort()))
_NOT_COLON = z3.Intersect(_ANY, z3.Complement(z3.Re(":")))


@lru_cache(maxsize=None)  # one entry per distinct pattern of the policies
def glob(pattern: str, one=_ANY) -> z3.ReRef:
    """An IAM wildcard pattern as a regular expression (`one` is what `?`/`*` range over)."""
    parts, run = [], []
    for ch in pattern:
        if ch in "*?":
            if run:
                parts.append(z3.Re("".join(run)))
                run = []
            parts.append(z3.Star(one) if ch == "*" else one)
        else:
            run.append(ch)
    if run or not parts:
        parts.append(z3.Re("".join(run)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


@lru_cache(maxsize=None)
def arn_glob(pattern: str) -> z3.ReRef:
    """ArnLike: wildcards in the first five components do not cross a colon."""
    if pattern.count(":") < 5:
        return glob(pattern)
    comps = pattern.split(":", 5)
    parts = []
    for i, comp in enumerate(comps):
        if i:
            parts.append(z3.Re(":"))
        parts.append(glob(comp, _NOT_COLON if i < 5 else _ANY))
    return z3.Concat(*parts)


def _prefix_only(pattern: str, arn: bool) -> bool:
    """`literal*`, where the `*` may match anything: a prefix test, far cheaper to solve than a
    regular expression (for ArnLike, only when the `*` is in the resource component)."""
    if not pattern.endswith("*") or has_wildcard(pattern[:-1]):
        return False
    return not arn or pattern.count(":") < 5 or pattern[:-1].count(":") >= 5


def _test(text: z3.SeqRef, pattern: str, arn: bool) -> z3.BoolRef:
    if not has_wildcard(pattern):
        return is_text(text, pattern)
    if _prefix_only(pattern, arn):
        return z3.PrefixOf(z3.StringVal(pattern[:-1]), text)
    return z3.InRe(text, arn_glob(pattern) if arn else glob(pattern))


def matches(text: z3.SeqRef, patterns: Sequence[str], arn: bool = False) -> z3.BoolRef:
    """`text` matches one of the patterns (exact text compared for equality: faster to solve)."""
    return disj(*(_test(text, p, arn) for p in patterns)) if patterns else z3.BoolVal(False)


def tests(text: z3.SeqRef, pattern: str) -> list[z3.BoolRef]:
    """The terms `matches` may build for `text` against `pattern` (as a string or an ARN pattern)."""
    plain, arn = _test(text, pattern, False), _test(text, pattern, True)
    return [plain] if plain.eq(arn) else [plain, arn]


# --------------------------------------------------------------------------- #
# Conditions


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_RELATIONS = {
    "Equals": lambda x, b: x == b, "LessThan": lambda x, b: x < b, "LessThanEquals": lambda x, b: x <= b,
    "GreaterThan": lambda x, b: x > b, "GreaterThanEquals": lambda x, b: x >= b,
    "NotEquals": lambda x, b: x == b,  # the negation is applied around the test
}


def _value_test(base: str, values: Sequence[str], key: Key):
    """A function from one symbolic value to "this value matches one of the policy's values"."""
    if base in ("StringEquals", "StringNotEquals"):
        return lambda v: disj(*(is_text(v.term, x) for x in values))
    if base in ("StringLike", "StringNotLike"):
        return lambda v: matches(v.term, values)
    if base.startswith("Arn"):
        return lambda v: matches(v.term, values, arn=True)
    if base == "Bool":
        wanted = {bool_index(key.type, x) for x in values}
        return lambda v: disj(*(v.term == i for i in sorted(wanted)))
    if base.startswith(("Numeric", "Date")):
        parse = _number if base.startswith("Numeric") else parse_date
        relation = _RELATIONS[base.removeprefix("Numeric").removeprefix("Date")]
        bounds = [b for b in (parse(x) for x in values) if b is not None]
        return lambda v: disj(*(relation(v.term, z3.RealVal(repr(b))) for b in bounds))
    if base in ("IpAddress", "NotIpAddress"):
        return lambda v: disj(*(in_network(v, x) for x in values))
    return None


def in_network(v: Value, text: str) -> z3.BoolRef:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return z3.BoolVal(False)
    mask, base = int(net.netmask), int(net.network_address)
    return conj(v.v6 if net.version == 6 else negate(v.v6), v.term & mask == base)


def condition(ctx: Context, cond: Condition, version: str | None) -> z3.BoolRef | None:
    """One operator/key pair as a term; None for an unknown operator (as the evaluator)."""
    parsed = parse_operator(cond.operator)
    if parsed is None:
        return None
    low = cond.key.lower()
    if low in ctx.known and not (version == VERSION and any("${" in v for v in cond.values)):
        # The caller fixes this key: decide the test as the evaluator does.
        return z3.BoolVal(_concrete(cond, version)({low: (ctx.known[low],)}))
    key = ctx.key(cond.key)
    if parsed.base == "Null":
        wanted = {v.lower() for v in cond.values}
        return _if(key.present, "false" in wanted, "true" in wanted)
    negated = parsed.base.startswith(("StringNot", "NotIp", "ArnNot")) or parsed.base.endswith("NotEquals")
    test = _value_test(parsed.base, cond.values, key)
    fam_ok = _family_fits(parsed.base, key.type.family)
    if test is None or not fam_ok or (version == VERSION and any("${" in v for v in cond.values)):
        return ctx.fresh(f"{cond.operator} {cond.key}")
    if parsed.set_op == "ForAllValues":
        return conj(*(implies(v.used, _not_if(test(v), negated)) for v in key.values))
    if parsed.set_op == "ForAnyValue":
        return _if(key.present, disj(*(conj(v.used, _not_if(test(v), negated)) for v in key.values)),
                   parsed.if_exists)
    # A plain operator on a multi-valued key: some value matches (negated: none does).
    some = disj(*(conj(v.used, test(v)) for v in key.values))
    return _if(key.present, _not_if(some, negated), negated or parsed.if_exists)


def _not_if(term: z3.BoolRef, flip: bool) -> z3.BoolRef:
    return negate(term) if flip else term


def _if(test: z3.BoolRef, then: z3.BoolRef | bool, otherwise: bool) -> z3.BoolRef:
    """`If(test, then, otherwise)` for a constant `otherwise`, as a connective (cheaper to build)."""
    return disj(negate(test), then) if otherwise else conj(test, then)


@lru_cache(maxsize=16384)
def _concrete(cond: Condition, version: str | None):
    return compile_condition(cond, version)


def _family_fits(base: str, fam: str) -> bool:
    if base.startswith(("String", "Arn")):
        return fam == "str" and "IgnoreCase" not in base
    if base.startswith("Numeric"):
        return fam == NUM
    if base.startswith("Date"):
        return fam == DATE
    if base.endswith("IpAddress"):
        return fam == IP
    return base == "Bool" and fam == BOOL


# --------------------------------------------------------------------------- #
# Statements


@dataclass(frozen=True)
class Reach:
    """How far a statement's Principal reaches the caller: names it (or `*`), or only its account."""

    full: z3.BoolRef
    account: z3.BoolRef


@lru_cache(maxsize=16384)
def _principals(p) -> _Principals:
    """A Principal element split for look-ups, once per element (every caller of a part reads it)."""
    return _Principals(p)


def reach(st: Statement, caller: Caller) -> Reach:
    p = st.principal or st.not_principal
    if p is None:  # identity policies and SCPs: the caller itself
        return Reach(TRUE, FALSE)
    parsed = _principals(p)
    if caller.kind != IAM:  # `*` names it, a service or a provider also by its name; NotPrincipal likewise
        listed = sorted(parsed.services) if caller.kind != FEDERATED else sorted(p.values("Federated"))
        names = disj(parsed.wildcard, *(is_text(caller.arn, s) for s in listed))
        return Reach(negate(names) if st.not_principal is not None else names, FALSE)
    if caller.concrete is not None:
        is_named = parsed.wildcard or caller.concrete in parsed.arns
        in_account = caller.concrete_account in parsed.accounts
        if st.not_principal is not None:
            return Reach(boolean(not (parsed.wildcard or (is_named and in_account))), FALSE)
        return Reach(boolean(is_named), boolean(in_account and not is_named))
    named = disj(parsed.wildcard, *(is_text(caller.arn, a) for a in sorted(parsed.arns)))
    account = disj(*(is_text(caller.account, a) for a in sorted(parsed.accounts)))
    if st.not_principal is not None:
        covered = disj(parsed.wildcard, conj(named, account))
        return Reach(negate(covered), FALSE)
    return Reach(named, conj(account, negate(named)))


class Encoded:
    """A policy's statements as terms for one query: its denies, and its allows by reach."""

    def __init__(self, ctx: Context, doc: PolicyDocument, kind: str, actions: Sequence[str], caller: Caller):
        self.deny: list[z3.BoolRef] = []
        self.allow_full: list[z3.BoolRef] = []
        self.allow_account: list[z3.BoolRef] = []
        for st in doc.statements:
            r = reach(st, caller)
            if is_false(r.full) and is_false(r.account):
                continue
            applies = _applies_once(ctx, st, kind, tuple(actions), doc.version)
            if applies is None:
                continue
            if st.effect == "Deny":
                self.deny.append(conj(applies, disj(r.full, r.account)))
            else:
                self.allow_full.append(conj(applies, r.full))
                self.allow_account.append(conj(applies, r.account))

    @property
    def denies(self) -> z3.BoolRef:
        return disj(*self.deny)

    @property
    def allows(self) -> z3.BoolRef:
        return disj(*self.allow_full, *self.allow_account)

    @property
    def names_caller(self) -> z3.BoolRef:
        return disj(*self.allow_full)


@lru_cache(maxsize=65536)
def _hits(patterns: tuple[str, ...], actions: tuple[str, ...], negate: bool) -> tuple[int, ...]:
    """Indices of the actions an Action (or, negated, a NotAction) element covers."""
    return tuple(i for i, a in enumerate(actions) if any(wildcard_match(p, a, True) for p in patterns) != negate)


def _applies_once(ctx: Context, st: Statement, kind: str, actions: tuple[str, ...], version: str | None):
    """`_applies`, built once per request for all its callers. The key names everything the
    term depends on besides the request's variables: the statement, where the resource
    lies and which term names it (the bucket behind an access point is another), and the
    values the caller fixes of the keys the statement's conditions read (`Context.known`),
    so a caller that fixes them otherwise gets its own term. A term with a free truth value
    (`Context.fresh`) is not shared."""
    fixed = tuple(ctx.known.get(c.key.lower()) for c in st.conditions)
    key = ("applies", id(st), kind, actions, version, ctx.scope, _id(ctx.resource), fixed)
    hit = ctx.request.memo.get(key)
    if hit is None:
        free = len(ctx.imprecise)
        term = _applies(ctx, st, kind, actions, version)
        if len(ctx.imprecise) != free:
            return term
        hit = ctx.request.memo[key] = (st, term)  # holding `st` keeps its id from being reused
    return hit[1]


def _applies(ctx: Context, st: Statement, kind: str, actions: Sequence[str], version: str | None):
    """Action, Resource and Condition of one statement; None if it can never apply here."""
    deny = st.effect == "Deny"
    if st.effect not in ("Allow", "Deny") or not (st.actions or st.not_actions):
        return None
    hits = _hits(st.actions, tuple(actions), False) if st.actions else _hits(st.not_actions, tuple(actions), True)
    if not hits:
        return None
    if not (st.resources or st.not_resources or kind == "resource" or deny):
        return None
    terms = [ctx.action_in(hits)]
    for cond in st.conditions:  # first: conditions on keys the caller fixes often decide at once
        term = condition(ctx, cond, version)
        if term is None:  # unknown operator: never allows; as a Deny it counts as true
            if not deny:
                return None
            continue
        if is_false(term):
            return None
        terms.append(term)
    if st.resources and "*" not in st.resources:
        terms.append(_resources(ctx, st.resources, version))
    elif st.not_resources:
        terms.append(negate(_resources(ctx, st.not_resources, version)))
    if is_false(terms[-1]):
        return None
    return conj(*terms)


@lru_cache(maxsize=1 << 18)
def could_match(pattern: str, arn: str, objects: bool) -> bool:
    """Whether an ARN pattern can match the target at all (`arn`, or some `arn/...` for objects):
    a cheap, exact test that leaves most statements of a large deployment out of the terms."""
    head = arn + "/" if objects else arn
    literal = pattern[:min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))]
    n = min(len(literal), len(head))
    if literal[:n] != head[:n]:  # the pattern's text before its first wildcard rules the target out
        return False
    if not objects:
        return wildcard_match(pattern, arn)
    states = _closure(pattern, {0})
    for ch in arn + "/":  # run the pattern over the prefix every object ARN starts with
        states = _closure(pattern, {i + 1 for i in states if i < len(pattern) and pattern[i] in (ch, "?")}
                          | {i for i in states if i < len(pattern) and pattern[i] == "*"})
        if not states:
            return False
    return True  # whatever the pattern still needs, some object name supplies it


def _closure(pattern: str, states: set[int]) -> set[int]:
    out, todo = set(states), list(states)
    while todo:
        i = todo.pop()
        if i < len(pattern) and pattern[i] == "*" and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return out


def _resources(ctx: Context, patterns: Sequence[str], version: str | None) -> z3.BoolRef:
    variable = [p for p in patterns if version == VERSION and "${" in p]
    static = [p for p in patterns if p not in variable and (ctx.scope is None or could_match(p, *ctx.scope))]
    if ctx.request.choices and ctx.resource is ctx.request.resource:  # a few known ARNs: decided here, exactly
        term = disj(*(is_text(ctx.resource, a) for a in ctx.request.choices
                      if any(wildcard_match(p, a) for p in static)))
    else:
        term = matches(ctx.resource, static)
    if variable:
        term = disj(term, ctx.fresh("Resource with a policy variable"))
    return term


# --------------------------------------------------------------------------- #
# The decision


@dataclass
class Applicable:
    """The documents AWS applies to one (caller, resource) pair, as the evaluator is given them."""

    identity: list[PolicyDocument]
    resource: PolicyDocument | None
    endpoints: dict[str, PolicyDocument]  # VPC endpoint id -> policy (applies when aws:SourceVpce is it)
    closed: tuple[str, ...]  # endpoints whose policies have nothing for this resource: they deny
    scps: list[PolicyDocument]
    rcps: list[PolicyDocument]
    own_policy: bool  # the resource's own policy must allow: a KMS key's policy, a role's trust policy (STS)


def allowed(ctx: Context, pol: Applicable, actions: Sequence[str], caller: Caller,
            same_account: z3.BoolRef, scp_applies: z3.BoolRef) -> z3.BoolRef:
    """AWS's decision for an IAM role or user caller (see the module docstring), or for an
    anonymous or AWS service caller: no IAM policy applies, a resource statement naming it must allow."""
    enc = lambda doc, kind: Encoded(ctx, doc, kind, actions, caller)  # noqa: E731
    identity = [enc(d, "identity") for d in pol.identity]
    resource = enc(pol.resource, "resource") if pol.resource is not None else None
    scps = [enc(d, "scp") for d in pol.scps]
    rcps = [enc(d, "rcp") for d in pol.rcps]
    vpce = ctx.key("aws:SourceVpce")
    through = lambda vids: disj(*(conj(v.used, is_text(v.term, vid))  # noqa: E731
                                  for v in vpce.values for vid in vids))
    denies, filters = [], [negate(through(pol.closed))]
    for vid, doc in sorted(pol.endpoints.items()):
        e = enc(doc, "endpoint")
        denies.append(conj(through([vid]), e.denies))
        filters.append(implies(through([vid]), e.allows))
    denies += [p.denies for p in identity + rcps + ([resource] if resource else [])]
    denies += [conj(scp_applies, p.denies) for p in scps]
    filters += [implies(scp_applies, p.allows) for p in scps]
    ident = disj(*(p.allows for p in identity))
    res_names = resource.names_caller if resource else z3.BoolVal(False)
    res_any = resource.allows if resource else z3.BoolVal(False)
    if caller.kind != IAM:
        grant = res_names
    elif pol.own_policy:
        grant = conj(res_any, disj(conj(same_account, res_names), ident))
    else:
        grant = z3.If(same_account, disj(res_names, ident), conj(ident, res_any))
    return conj(negate(disj(*denies)), *filters, grant)


def behind_access_point(ctx: Context, bucket: PolicyDocument | None, endpoints: dict[str, PolicyDocument],
                        rcps: list[PolicyDocument], actions: Sequence[str], caller: Caller,
                        resource: z3.SeqRef, scope: tuple[str, bool]) -> z3.BoolRef:
    """The bucket's half of a request through an access point (the evaluator's
    `behind_access_point`): the bucket policy, asked on the bucket's ARN, denies nothing
    and allows the caller (directly or by its account); so do the endpoint policies and RCPs."""
    if bucket is None:
        return z3.BoolVal(False)
    saved = ctx.resource, ctx.scope
    ctx.resource, ctx.scope = resource, scope
    try:
        enc = lambda doc, kind: Encoded(ctx, doc, kind, actions, caller)  # noqa: E731
        policy = enc(bucket, "resource")
        vpce = ctx.key("aws:SourceVpce")
        through = lambda vid: disj(*(conj(v.used, is_text(v.term, vid)) for v in vpce.values))  # noqa: E731
        denies = [policy.denies] + [enc(d, "rcp").denies for d in rcps]
        filters = []
        for vid, doc in sorted(endpoints.items()):
            e = enc(doc, "endpoint")
            denies.append(conj(through(vid), e.denies))
            filters.append(implies(through(vid), e.allows))
        return conj(negate(disj(*denies)), *filters, policy.allows)
    finally:
        ctx.resource, ctx.scope = saved
