"""The symbolic request: a caller, an action, a resource, and condition keys.

Each condition key is a possibly-absent, typed value, typed by the operators that
read it: strings (Z3 String: `String*`, `Arn*`), numbers and dates (Real:
`Numeric*`, `Date*`, so no instant between two whole seconds is skipped), IP
addresses (a 128-bit vector and a version flag: `IpAddress`, with CIDR masks), and
`Bool` keys (an index into the values the policies name; AWS's Bool-typed keys
are only ever "true" or "false", so a value is one of those two).
Numbers, dates and addresses are always well-formed: AWS sets those keys itself,
in their documented formats (the spec's meaning reads them the same way).

Multi-valued keys: a key read by `ForAllValues:`/`ForAnyValue:` conditions holds up
to B values, B = the number of such conditions on it (at least 1). That bound
loses nothing: each such condition is decided by one witness value (ForAnyValue
true, ForAllValues false) or by all values (which a subset keeps), so any set of
values can be cut down to at most B of them without changing any decision. Other
keys are single-valued, as AWS sends them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from itertools import count
from typing import Iterable

import z3

from .terms import conj, disj, implies, negate, same

from slpc.policy.document import PolicyDocument
from slpc.verify.conditions import parse_date, parse_operator

STR, NUM, DATE, IP, BOOL = "str", "num", "date", "ip", "bool"

_FAMILY = {"String": STR, "Arn": STR, "Numeric": NUM, "Date": DATE, "IpAddress": IP, "NotIpAddress": IP, "Bool": BOOL}

# Global keys AWS puts in every request (IAM User Guide, global condition context
# keys): a request without them does not exist, and `slpc explain` fills them in.
ALWAYS_PRESENT = ("aws:currenttime", "aws:securetransport")
# Keys that describe a signed request's caller, absent from an anonymous one (IAM User
# Guide, global condition context keys: principal properties).
CALLER_KEYS = ("aws:principal", "aws:userid", "aws:username")
# The keys of those that describe an IAM identity, absent when an AWS service principal
# calls (it has no ARN, account or organization of its own; the evaluator's `Request._fill`).
IAM_CALLER_KEYS = ("aws:principalarn", "aws:principalaccount", "aws:principalorg", "aws:userid", "aws:username")
# Who calls: the spec's roles and the outsider are IAM identities; a federated caller
# presents a web identity or SAML token to STS (no AWS credentials).
IAM, ANONYMOUS, SERVICE, FEDERATED = "iam", "anonymous", "service", "federated"
# Keys AWS derives from the caller and the resource (the evaluator's `Request._fill`).
DERIVED_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "aws:principalisawsservice",
                          "aws:principalservicename", "aws:resourceaccount"})

_LATEST = 253402300799  # 9999-12-31T23:59:59Z: what a date can be written as
_ARN_NAME = z3.Plus(z3.Union(z3.Range("a", "z"), z3.Range("A", "Z"), z3.Range("0", "9"),
                             *(z3.Re(c) for c in "+=,.@_-")))
_DIGITS12 = z3.Loop(z3.Range("0", "9"), 12, 12)
# An IAM path segment: printable ASCII but "/" (IAM User Guide, IAM identifiers: paths).
_PATH_SEGMENT = z3.Plus(z3.Union(z3.Range("!", "."), z3.Range("0", "~")))
# An AWS service principal (`cloudtrail.amazonaws.com`, `logs.amazonaws.com.cn` ...).
_SERVICE_NAME = z3.Concat(z3.Plus(z3.Union(z3.Range("a", "z"), z3.Range("0", "9"), z3.Re("-"), z3.Re("."))),
                          z3.Union(z3.Re(".amazonaws.com"), z3.Re(".amazonaws.com.cn")))
# What follows `arn:PARTITION:iam::ACCOUNT:` for a role or a user, with any path.
_ROLE_OR_USER = z3.Concat(z3.Union(z3.Re("role/"), z3.Re("user/")), z3.Star(z3.Concat(_PATH_SEGMENT, z3.Re("/"))),
                          _ARN_NAME)


def family(base: str) -> str | None:
    """The value family an operator reads (None for `Null`, which only tests presence)."""
    for prefix, fam in _FAMILY.items():
        if base.startswith(prefix):
            return fam
    return None


@dataclass
class KeyType:
    family: str
    bound: int = 1
    domain: tuple[str, ...] = ()  # BOOL: the lower-cased values policies compare with


def key_types(documents: Iterable[PolicyDocument], seeds: dict[str, str]) -> dict[str, KeyType]:
    """Each key's family (the seed's, else the one most conditions use) and value bound."""
    uses: dict[str, Counter] = defaultdict(Counter)
    set_conditions: Counter = Counter()
    domains: dict[str, set[str]] = defaultdict(set)
    for doc in documents:
        for st in doc.statements:
            for cond in st.conditions:
                parsed = parse_operator(cond.operator)
                if parsed is None:
                    continue
                key = cond.key.lower()
                fam = family(parsed.base)
                uses[key][fam or STR] += fam is not None
                if parsed.set_op:
                    set_conditions[key] += 1
                if fam == BOOL:
                    domains[key] |= {v.lower() for v in cond.values}
    types = {}
    for key in set(uses) | set(seeds):
        fam = seeds.get(key) or (uses[key].most_common(1)[0][0] if uses[key] else STR)
        dom = tuple(sorted(domains[key] | {"true", "false"})) if fam == BOOL else ()
        types[key] = KeyType(fam, max(1, set_conditions[key]), dom)
    return types


@dataclass
class Value:
    """One symbolic value of a key (`v6`: an IPv6 address)."""

    used: z3.BoolRef
    term: z3.ExprRef
    v6: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(False))


@dataclass
class Key:
    name: str
    type: KeyType
    values: list[Value]

    @property
    def present(self) -> z3.BoolRef:
        return self.values[0].used


@dataclass
class Caller:
    """Who asks: a spec principal (concrete ARN), the symbolic outsider, an anonymous caller or
    an AWS service principal (`arn` is then its name)."""

    arn: z3.SeqRef
    account: z3.SeqRef
    name: str | None  # the spec's principal name; None for the outsider
    concrete: str | None  # the role ARN when known
    concrete_account: str | None = None
    kind: str = IAM  # ANONYMOUS and SERVICE callers: no IAM policy applies, only a resource policy grants

    @property
    def anonymous(self) -> bool:
        return self.kind == ANONYMOUS


class SharedRequest:
    """The symbolic request of one asset part, shared by every caller asked about it: its
    variables (resource, action, condition keys), what is true of every request there (each
    key's value domain, the part's resources and actions: `facts`), and the terms built over
    them (`memo`). Nothing in it depends on the caller: each caller's own facts and fixed
    keys stay in its `Context`, so a term is built once per part, not once per caller."""

    def __init__(self, types: dict[str, KeyType]):
        self.types = types
        self.tag = next(Context._ids)
        self.keys: dict[str, Key] = {}
        self.facts: list[z3.BoolRef] = []
        self.memo: dict = {}
        self.resource = z3.String(f"resource_{self.tag}")
        self.action = z3.Int(f"action_{self.tag}")
        # The resource is one of these ARNs (roles): each Resource pattern is matched against
        # them in Python, as a regular expression over a free string made Z3 search for seconds.
        self.choices: tuple[str, ...] = ()


class Context:
    """One caller's view of a symbolic request: the request's variables (shared with the other
    callers of the same `SharedRequest`, or fresh), the caller's own facts and the keys it fixes."""

    _ids = count()

    def __init__(self, types: dict[str, KeyType], request: "SharedRequest | None" = None):
        self.types = types
        self.request = request or SharedRequest(types)
        self.tag = next(self._ids)
        self.keys = self.request.keys
        self._own: list[z3.BoolRef] = []  # this caller's facts (its ARN, the keys it fixes)
        self.imprecise: list[str] = []
        self.known: dict[str, str] = {}  # keys whose one value is fixed by the caller
        self._memo = self.request.memo
        self.resource = self.request.resource
        self.scope: tuple[str, bool] | None = None  # (ARN, objects): where the resource lies
        self.bystanders: frozenset[str] = frozenset()  # VPC endpoints the query leaves out (solver.Situation)
        self.absent: tuple[str, ...] = ()  # prefixes of keys this caller's requests never carry
        self.action = self.request.action

    @property
    def facts(self) -> list[z3.BoolRef]:
        """What makes the variables a real request of this caller (for every key made so far)."""
        absent = [negate(k.present) for low, k in self.keys.items() if self.absent and low.startswith(self.absent)]
        return [*self.request.facts, *self._own, *absent]

    def add(self, *facts: z3.BoolRef) -> None:
        """Facts of this caller's requests only."""
        self._own += facts

    def memo(self, key, build):
        """A term built once per request (network and time tests recur in many branches, and
        every caller's terms are built over the same request: the key must name whatever
        the term depends on beyond the request's variables)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def action_in(self, indices: tuple[int, ...]) -> z3.BoolRef:
        """The request's action is one of these (indices into the query's action list)."""
        if len(indices) == 1:
            return self.memo(("action", indices[0]), lambda: same(self.action, z3.IntVal(indices[0])))
        return self.memo(("actions", indices), lambda: disj(*(self.action_in((i,)) for i in indices)))

    def fresh(self, why: str) -> z3.BoolRef:
        """An unconstrained truth value for a test the encoding does not model exactly.

        Either answer is possible, so a proof still covers the real behaviour; a
        counterexample that relies on it is caught when it is replayed.
        """
        self.imprecise.append(why)
        return z3.Bool(f"free_{self.tag}_{len(self.imprecise)}")

    def key(self, name: str) -> Key:
        low = name.lower()
        hit = self.keys.get(low)
        if hit is None:
            hit = self.keys[low] = self._make(low, name, self.types.get(low) or KeyType(STR))
        return hit

    def _make(self, low: str, name: str, kt: KeyType) -> Key:
        values, domain = [], []
        for i in range(kt.bound):
            tag = f"{low}_{i}_{self.tag}"
            used = z3.Bool(f"has_{tag}")
            if values:
                domain.append(implies(used, values[-1].used))
            if kt.family == STR:
                values.append(Value(used, z3.String(tag)))
            elif kt.family in (NUM, DATE):
                v = Value(used, z3.Real(tag))
                if kt.family == DATE:
                    domain.append(conj(v.term >= 0, v.term <= _LATEST))
                values.append(v)
            elif kt.family == IP:
                v = Value(used, z3.BitVec(tag, 128), z3.Bool(f"v6_{tag}"))
                domain.append(disj(v.v6, z3.Extract(127, 32, v.term) == 0))
                values.append(v)
            else:
                v = Value(used, z3.Int(tag))  # AWS's Bool keys are "true" or "false"
                domain.append(disj(v.term == kt.domain.index("true"), v.term == kt.domain.index("false")))
                values.append(v)
        if low in ALWAYS_PRESENT:
            domain.append(values[0].used)
        self.request.facts += domain  # true for every caller (`absent` keys: see `facts`)
        return Key(name, kt, values)

    def shape(self, name: str, term: z3.SeqRef) -> None:
        """Make a single-valued string key present with a value of this form (a known text, or
        a known head and a free tail), before any term reads the key: tests of other texts
        are then decided by Z3's rewriter, not searched (world.KeyContext)."""
        low = name.lower()
        kt = self.types.get(low) or KeyType(STR)
        if low in self.keys or kt.family != STR or kt.bound != 1:
            raise ValueError(f"{name}: only a fresh single-valued string key can be shaped")
        self.keys[low] = Key(name, kt, [Value(z3.BoolVal(True), term)])

    def equals_text(self, name: str, text: z3.SeqRef | str) -> z3.BoolRef:
        """The key is present with exactly this one value (string or bool keys)."""
        key = self.key(name)
        first, rest = key.values[0], key.values[1:]
        only = conj(first.used, *(negate(v.used) for v in rest))
        if key.type.family == STR:
            return conj(only, first.term == text)
        if key.type.family == BOOL and isinstance(text, str):
            return conj(only, first.term == bool_index(key.type, text))
        return only

    def caller(self, arn: str, account: str, name: str) -> Caller:
        return Caller(z3.StringVal(arn), z3.StringVal(account), name, arn, account)

    def outsider(self, partition: str, known: Iterable[str]) -> Caller:
        """Any IAM role or user but the `known` ones, with any path, in any account (the deployment's too)."""
        account, name = z3.String(f"outsider_account_{self.tag}"), z3.String(f"outsider_name_{self.tag}")
        arn = z3.Concat(z3.StringVal(f"arn:{partition}:iam::"), account, z3.StringVal(":"), name)
        self.add(z3.InRe(account, _DIGITS12), z3.InRe(name, _ROLE_OR_USER), *(arn != k for k in known))
        return Caller(arn, account, None, None)

    def anonymous(self) -> Caller:
        """A caller that signs nothing (S3 and API Gateway accept such requests)."""
        self._never(CALLER_KEYS)
        return Caller(z3.StringVal(""), z3.StringVal(""), None, None, kind=ANONYMOUS)

    def service(self) -> Caller:
        """Any AWS service principal, calling on its own behalf (CloudTrail writing logs ...)."""
        name = z3.String(f"service_{self.tag}")
        self.add(z3.InRe(name, _SERVICE_NAME))
        self._never(IAM_CALLER_KEYS)
        return Caller(name, z3.StringVal(""), None, None, kind=SERVICE)

    def federated(self, partition: str, providers: Iterable[str]) -> Caller:
        """A caller with a web identity or SAML token from any identity provider of any account,
        named by the provider's ARN, with any token: STS reads its claims (`ISSUER:sub`,
        `ISSUER:aud` ...) as condition keys, any value or absent here. It has no AWS identity.

        A Principal names a provider exactly (no wildcards but `*`), and nothing else reads its
        ARN, so the ARN is one of the `providers` the policies and the spec name, or one
        provider named nowhere, which stands for every other (as one symbolic string with a
        regular expression, it left Z3 searching for seconds)."""
        named = sorted(set(providers))
        other = next(a for i in count() if (a := f"arn:{partition}:iam::000000000000:oidc-provider/unnamed/{i}")
                     not in named)
        arn = z3.String(f"provider_{self.tag}")
        self.add(disj(*(arn == z3.StringVal(a) for a in [*named, other])))
        self._never(IAM_CALLER_KEYS)
        head = len(f"arn:{partition}:iam::")
        return Caller(arn, z3.SubString(arn, head, 12), None, None, kind=FEDERATED)

    def _never(self, prefixes: tuple[str, ...]) -> None:
        self.absent = prefixes  # `facts` makes each such key absent

    def fix_caller(self, caller: Caller, resource_account: str) -> None:
        """The keys AWS derives from the caller (the evaluator's `Request._fill`); no caller can set them."""
        account = self.equals_text("aws:ResourceAccount", z3.StringVal(resource_account))
        if caller.anonymous:  # the resource's account, or (not documented either way) no such key
            self.add(disj(negate(self.key("aws:ResourceAccount").present), account))
            return
        self.known["aws:resourceaccount"] = resource_account
        self.add(account)
        if caller.kind == FEDERATED:
            return
        if caller.kind == SERVICE:
            self.known["aws:principalisawsservice"] = "true"
            self.add(self.equals_text("aws:PrincipalIsAWSService", "true"),
                     self.equals_text("aws:PrincipalServiceName", caller.arn))
            return
        self.known["aws:principalisawsservice"] = "false"
        if "aws:principalservicename" in self.types:  # AWS sets it only on a service principal's own call
            self.add(negate(self.key("aws:PrincipalServiceName").present))
        if caller.concrete is not None:
            self.known.update({"aws:principalarn": caller.concrete, "aws:principalaccount": caller.concrete_account})
        self.add(self.equals_text("aws:PrincipalArn", caller.arn),
                 self.equals_text("aws:PrincipalAccount", caller.account),
                 self.equals_text("aws:PrincipalIsAWSService", "false"))

    # -- reading a model back ------------------------------------------------ #
    def concrete(self, model: z3.ModelRef) -> dict[str, list[str]]:
        """The request context a solver model describes: key -> its values (absent keys left out)."""
        out = {}
        for low, key in sorted(self.keys.items()):
            vals = [_text(key.type, v, model) for v in key.values if z3.is_true(model.eval(v.used, True))]
            if vals:
                out[low] = vals
        return out


def bool_index(kt: KeyType, text: str) -> int:
    low = text.lower()
    return kt.domain.index(low) if low in kt.domain else len(kt.domain)


def _text(kt: KeyType, v: Value, model: z3.ModelRef) -> str:
    term = model.eval(v.term, True)
    if kt.family == STR:
        return term.as_string()
    if kt.family == BOOL:
        return kt.domain[term.as_long()]
    if kt.family == IP:
        n = term.as_long()
        return str(ipaddress.ip_address(n if z3.is_true(model.eval(v.v6, True)) else n & 0xFFFFFFFF))
    number = Fraction(term.numerator_as_long(), term.denominator_as_long())
    if kt.family == NUM:
        return str(int(number)) if number.denominator == 1 else f"{float(number):.6f}".rstrip("0")
    return date_text(number)


def date_text(seconds: Fraction) -> str:
    """ISO 8601 UTC, with microseconds only when needed (what parse_date and `slpc explain` read)."""
    dt = datetime.fromtimestamp(float(seconds), timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if dt.microsecond else "") + "Z")


def pin(ctx: Context, context: dict[str, list[str]]) -> list[z3.BoolRef]:
    """Constraints fixing every symbolic key to a concrete context (absent when not given):
    the inverse of `Context.concrete`, to check the encoding on concrete requests."""
    given = {k.lower(): v for k, v in context.items()}
    out = []
    for low, key in ctx.keys.items():
        if low in DERIVED_KEYS:
            continue
        values = given.get(low, [])
        if len(values) > len(key.values):
            raise ValueError(f"{low}: {len(values)} values, the encoding holds {len(key.values)}")
        for i, v in enumerate(key.values):
            if i >= len(values):
                out.append(negate(v.used))
            else:
                out += [v.used, v.term == _term(key.type, values[i])]
                if key.type.family == IP:
                    out.append(v.v6 == z3.BoolVal(ipaddress.ip_address(values[i]).version == 6))
    return out


def _term(kt: KeyType, text: str) -> z3.ExprRef:
    if kt.family == STR:
        return z3.StringVal(text)
    if kt.family == BOOL:
        return z3.IntVal(bool_index(kt, text))
    if kt.family == NUM:
        return z3.RealVal(str(Fraction(text)))
    if kt.family == DATE:
        return z3.RealVal(str(Fraction(parse_date(text))))
    return z3.BitVecVal(int(ipaddress.ip_address(text)), 128)
