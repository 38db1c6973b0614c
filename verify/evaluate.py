"""AWS IAM policy evaluation: Allow, explicit deny or implicit deny, with reasons.

Follows the IAM User Guide, "Policy evaluation logic" (single-account and
cross-account pages). Policies are compiled once (`compile_policy`, or
`Evaluator(...)`) and then evaluated against many `Request`s.

What is implemented, including the subtle rules:
- An explicit Deny in any applicable policy wins. Identity policies, SCPs,
  permissions boundaries and session policies apply only to IAM principals;
  resource, endpoint and RCP policies apply to every caller.
- RCPs only deny (the implicit `RCPFullAWSAccess` allows everything); every SCP
  must allow; a VPC endpoint policy applies when the request carries
  `aws:SourceVpce` (equal to `endpoint_id` when one is given) and must allow.
- Same account: identity allow (passing boundary and session policy) or resource
  allow. How far a resource-policy grant reaches depends on whom it names:
  * the caller's user ARN or role-session ARN: granted directly, not limited by
    an implicit deny in identity policy, boundary or session policy;
  * the role ARN, `*`, `{"AWS": "*"}` or NotPrincipal: still limited by the
    permissions boundary and the session policy (the documented rule for role
    ARNs, applied conservatively to wildcards, which name nobody);
  * only the account (root ARN or bare id): delegation to IAM, which grants
    nothing alone, so the identity policy must allow.
- Cross account: the identity side (with boundary and session policy) and the
  resource policy must both allow; without a resource policy it is denied.
- KMS (resource ARN service `kms`): the key policy must allow. Naming the
  caller (or `*`) suffices within the key's account, subject to the grant rules
  above; naming the account root needs the identity policy too; cross-account
  needs key policy and identity policy.
- STS on a role (an `sts:` action on an IAM role ARN: AssumeRole, TagSession,
  SetSourceIdentity...): the role's trust policy is the resource policy and, like
  a key policy, must allow: naming the caller's role or user ARN suffices within
  the role's account; naming only the account root needs the identity policy
  too; cross-account needs both. The SCPs given are the caller's account's, the
  RCPs the role's (`deployment.Deployment` picks them). An anonymous caller
  never obtains a role.
- iam:PassRole: IAM roles have no resource policy for it, so the identity
  policy alone decides (with boundary, session policy and SCPs, and
  `iam:PassedToService` from the context), and only within the role's account:
  a role of another account can never be passed.
- Anonymous callers, AWS service principals and federated callers (a web
  identity or SAML caller, named by its identity provider) are allowed only by a
  resource policy whose Principal matches them (`*`, `{"AWS": "*"}`,
  `{"Service": ...}`, `{"Federated": <provider>}`), its conditions read on the
  request's context (`aws:SourceAccount`, `aws:SourceArn`, `aws:RequestTag/...`,
  `<issuer>:sub`). Identity policies and SCPs never apply to them; RCPs do.
- A Deny with NotPrincipal in a resource policy denies every IAM caller that has
  a permissions boundary, as AWS documents. NotPrincipal excludes a caller only
  when all its names are listed: its ARN(s) (role and session ARN for a
  session) and its account.
- A statement with an unknown condition operator never matches as an Allow,
  and as a Deny the unknown condition counts as true (deny): soundness first.
  The decision's statement reference carries a note saying so.
- A statement without Resource/NotResource applies to the policy's own
  resource in a resource policy (ECR allows this); elsewhere it is invalid and
  then only ever counts as a Deny.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence, Union

from slpc.policy.document import PolicyDocument, Principal, Statement
from slpc.verify.conditions import Predicate, Template, Value, compile_condition, glob_source, parse_template
from slpc.policy.matching import has_wildcard, wildcard_regex
from slpc.verify.request import ANONYMOUS, FEDERATED, IAM_KINDS, ROOT, SERVICE, SESSION, USER, Request

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

KINDS = ("identity", "resource", "endpoint", "scp", "rcp", "boundary", "session")
PASS_ROLE = "iam:passrole"

# How far a resource-policy statement's Principal reaches the caller.
NONE, ACCOUNT, BOUNDED, DIRECT = 0, 1, 2, 3

_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class StatementRef:
    """Names one statement for explanations: policy label, index, Sid."""

    policy: str
    index: int
    sid: str | None
    effect: str
    note: str | None = None

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        note = f" [{self.note}]" if self.note else ""
        return f"{self.policy}#{self.index}{sid} {self.effect}{note}"


@dataclass(frozen=True)
class Decision:
    """The outcome, the statements that decided it, and the rule that applied."""

    effect: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    statements: tuple[StatementRef, ...]
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW

    def explain(self) -> str:
        lines = [f"{self.effect}: {self.reason}"] + [f"  {ref}" for ref in self.statements]
        return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Compiling statements


@lru_cache(maxsize=16384)
def _value_regex(value: Value) -> re.Pattern[str]:
    return re.compile(glob_source(value), re.DOTALL)


class _Principals:
    """A Principal/NotPrincipal element, split for set look-ups."""

    __slots__ = ("wildcard", "arns", "accounts", "services", "federated")

    def __init__(self, p: Principal) -> None:
        self.wildcard = p.wildcard
        self.arns: set[str] = set()
        self.accounts: set[str] = set()
        for v in p.values("AWS"):
            parts = v.split(":")
            if v == "*":
                self.wildcard = True
            elif v.isdigit() and len(v) == 12:
                self.accounts.add(v)
            elif len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
                self.accounts.add(parts[4])
            else:
                self.arns.add(v)
        self.services = {s.lower() for s in p.values("Service")}
        self.federated = set(p.values("Federated"))

    def grant(self, req: Request) -> int:
        kind = req.kind
        if kind == SERVICE:
            return DIRECT if self.wildcard or req.principal.lower() in self.services else NONE  # type: ignore[union-attr]
        if kind == FEDERATED:
            return DIRECT if self.wildcard or req.provider in self.federated else NONE
        if self.wildcard:
            return DIRECT if kind in (ANONYMOUS, ROOT) else BOUNDED
        if kind == ANONYMOUS:
            return NONE
        if kind == ROOT:
            return DIRECT if req.principal_account in self.accounts else NONE
        if req.principal in self.arns:
            return DIRECT if kind in (USER, SESSION) else BOUNDED
        if req.principal_arn in self.arns:
            return BOUNDED
        return ACCOUNT if req.principal_account in self.accounts else NONE

    def covers(self, req: Request) -> bool:
        """True when NotPrincipal lists every name of the caller (so excludes it)."""
        if self.wildcard:
            return True
        if req.kind == SERVICE:
            return req.principal.lower() in self.services  # type: ignore[union-attr]
        if req.kind == FEDERATED:
            return req.provider in self.federated
        if req.kind == ANONYMOUS:
            return False
        names_listed = req.kind == ROOT or req.identities <= self.arns
        return names_listed and req.principal_account in self.accounts


def _pattern_matcher(patterns: Sequence[str], ignore_case: bool) -> Callable[[str], object]:
    """Wildcard patterns (no variables) as one precompiled regex; truthy on a match."""
    if "*" in patterns:
        return lambda _: True
    if not patterns:
        return lambda _: False
    exact = [p for p in patterns if not has_wildcard(p)]
    if len(exact) == len(patterns) and not ignore_case:
        return frozenset(exact).__contains__
    source = "|".join(f"(?:{wildcard_regex(p).pattern})" for p in patterns)
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0)).fullmatch


# A principal element of exactly "*": its reach by caller kind (see _Principals.grant).
_WILDCARD_LEVEL = {ANONYMOUS: DIRECT, SERVICE: DIRECT, FEDERATED: DIRECT, ROOT: DIRECT}


class _Statement:
    """A compiled statement. `reach` is cached per caller; `applies` is the per-request hot path."""

    __slots__ = (
        "ref", "deny", "actions", "wildcard", "principals", "not_principal",
        "res_static", "res_dynamic", "res_negate", "conditions",
    )  # fmt: skip

    def __init__(
        self,
        ref: StatementRef,
        actions: Callable[[str], object],
        principal: Principal | None,
        not_principal: bool,
        resources: Sequence[str] | None,
        res_negate: bool,
        version: str | None,
        conditions: tuple[Predicate, ...],
    ) -> None:
        self.ref = ref
        self.deny = ref.effect == "Deny"
        self.actions = actions
        self.wildcard = principal is not None and principal.wildcard and not not_principal
        self.principals = _Principals(principal) if principal is not None and not self.wildcard else None
        self.not_principal = not_principal
        # Resource patterns: the variable-free ones in one regex, the others resolved per request.
        self.res_static: Callable[[str], object] | None = None
        self.res_dynamic: tuple[Template, ...] = ()
        self.res_negate = res_negate
        if resources is not None:
            templates = [parse_template(r, version) for r in resources]
            self.res_static = _pattern_matcher([r for r, t in zip(resources, templates) if t is None], False)
            self.res_dynamic = tuple(t for t in templates if t is not None)
        self.conditions = conditions

    def reach(self, req: Request, not_principal_denies: bool = False) -> int:
        """How far the Principal element reaches this caller (NONE: not at all)."""
        if self.wildcard:
            return _WILDCARD_LEVEL.get(req.kind, BOUNDED)
        if self.principals is None:
            return DIRECT
        if self.not_principal:
            if not_principal_denies or not self.principals.covers(req):
                return _WILDCARD_LEVEL.get(req.kind, BOUNDED)
            return NONE
        return self.principals.grant(req)

    def applies(self, req: Request) -> bool:
        """Resource and Condition tests, the per-request part."""
        static = self.res_static
        if static is not None:
            matched = static(req.resource)
            if not matched and self.res_dynamic:
                matched = self._dynamic_resource(req)
            if bool(matched) == self.res_negate:
                return False
        ctx = req.context
        for cond in self.conditions:
            if not cond(ctx):
                return False
        return True

    def _dynamic_resource(self, req: Request) -> bool:
        for t in self.res_dynamic:
            value = t.resolve(req.context)
            if value is not None and _value_regex(value).fullmatch(req.resource):
                return True
        return False


def _compile_statement(
    st: Statement, index: int, label: str, kind: str, version: str | None
) -> _Statement | StatementRef:
    """A compiled statement, or the ref of one that can never apply as written."""
    ref = StatementRef(label, index, st.sid, st.effect)
    if st.effect not in ("Allow", "Deny"):
        return ref
    deny = st.effect == "Deny"
    if st.actions:
        actions = _pattern_matcher(st.actions, True)
    elif st.not_actions:
        excluded = _pattern_matcher(st.not_actions, True)
        actions = lambda a: not excluded(a)  # noqa: E731
    else:
        return ref
    if st.resources:
        resources, negate = (None if "*" in st.resources else st.resources), False
    elif st.not_resources:
        resources, negate = st.not_resources, True
    elif kind == "resource" or deny:
        resources, negate = None, False
    else:
        return ref
    conditions: list[Predicate] = []
    unknown: list[str] = []
    for cond in st.conditions:
        pred = compile_condition(cond, version)
        if pred is None:
            unknown.append(cond.operator)
        else:
            conditions.append(pred)
    if unknown:
        if not deny:
            return ref
        ref = StatementRef(label, index, st.sid, st.effect, f"unknown condition operator {', '.join(unknown)} treated as true")
    return _Statement(
        ref,
        actions,
        st.principal or st.not_principal,
        st.not_principal is not None,
        resources,
        negate,
        version,
        tuple(conditions),
    )


# --------------------------------------------------------------------------- #
# Compiled policies


class CompiledPolicy:
    """One policy document compiled for repeated evaluation.

    `ignored` lists statements that can never apply (unknown effect, an Allow
    with an unknown condition operator, an identity Allow without Resource).
    """

    def __init__(self, doc: PolicyDocument, kind: str = "identity", label: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown policy kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.label = label or kind
        compiled = [_compile_statement(s, i, self.label, kind, doc.version) for i, s in enumerate(doc.statements)]
        self.statements = tuple(s for s in compiled if isinstance(s, _Statement))
        self.ignored = tuple(s for s in compiled if isinstance(s, StatementRef))
        self._by_action: dict[str, list[_Statement]] = {}
        self._by_caller: dict[tuple, tuple[_Reach, _Reach]] = {}

    def _for_action(self, action: str) -> list[_Statement]:
        hit = self._by_action.get(action)
        if hit is None:
            if len(self._by_action) >= _CACHE_LIMIT:
                self._by_action.clear()
            hit = self._by_action[action] = [s for s in self.statements if s.actions(action)]
        return hit

    def candidates(self, req: Request, not_principal_denies: bool = False) -> tuple[_Reach, _Reach]:
        """(Deny, Allow) statements whose Action and Principal cover the request,
        each with its reach; Allows ordered by reach, widest first.

        Action and Principal depend only on the action and the caller, so the
        answer is cached per (action, caller): requests then only pay for
        Resource and Condition tests.
        """
        key = (req.action_lower, req.caller, not_principal_denies)
        hit = self._by_caller.get(key)
        if hit is None:
            if len(self._by_caller) >= _CACHE_LIMIT:
                self._by_caller.clear()
            reached = [(s, s.reach(req, not_principal_denies)) for s in self._for_action(req.action_lower)]
            denies = tuple((s, r) for s, r in reached if r and s.deny)
            allows = sorted(((s, r) for s, r in reached if r and not s.deny), key=lambda sr: -sr[1])
            hit = self._by_caller[key] = (denies, tuple(allows))
        return hit

    def denies(self, req: Request, not_principal_denies: bool = False) -> list[StatementRef]:
        return [s.ref for s, _ in self.candidates(req, not_principal_denies)[0] if s.applies(req)]

    def allow(self, req: Request) -> tuple[int, _Statement | None]:
        """The widest-reaching Allow statement that applies, as (reach, statement)."""
        for st, reach in self.candidates(req)[1]:
            if st.applies(req):
                return reach, st
        return NONE, None


_Reach = tuple[tuple[_Statement, int], ...]


def compile_policy(doc: PolicyDocument, kind: str = "identity", label: str | None = None) -> CompiledPolicy:
    """Compile once, evaluate many times; `kind` is one of KINDS."""
    return CompiledPolicy(doc, kind, label)


PolicyInput = Union[PolicyDocument, CompiledPolicy, tuple[str, PolicyDocument]]


def _compiled(p: PolicyInput, kind: str, default_label: str) -> CompiledPolicy:
    if isinstance(p, CompiledPolicy):
        return p
    if isinstance(p, tuple):
        return CompiledPolicy(p[1], kind, p[0])
    return CompiledPolicy(p, kind, default_label)


# --------------------------------------------------------------------------- #
# The evaluator


class Evaluator:
    """The policies that apply to one (principal, resource) situation, compiled once.

    Each policy may be a PolicyDocument, a (label, PolicyDocument) pair or a
    CompiledPolicy. `endpoint_id` restricts the endpoint policy to requests whose
    `aws:SourceVpce` is that endpoint; without it, any `aws:SourceVpce` applies it.
    """

    def __init__(
        self,
        *,
        identity: Sequence[PolicyInput] = (),
        resource: PolicyInput | None = None,
        endpoint: PolicyInput | None = None,
        endpoint_id: str | None = None,
        scps: Sequence[PolicyInput] = (),
        rcps: Sequence[PolicyInput] = (),
        boundary: PolicyInput | None = None,
        session: PolicyInput | None = None,
    ) -> None:
        self.identity = tuple(_compiled(p, "identity", f"identity[{i}]") for i, p in enumerate(identity))
        self.resource = _compiled(resource, "resource", "resource") if resource is not None else None
        self.endpoint = _compiled(endpoint, "endpoint", "endpoint") if endpoint is not None else None
        self.endpoint_id = endpoint_id
        self.scps = tuple(_compiled(p, "scp", f"scp[{i}]") for i, p in enumerate(scps))
        self.rcps = tuple(_compiled(p, "rcp", f"rcp[{i}]") for i, p in enumerate(rcps))
        self.boundary = _compiled(boundary, "boundary", "boundary") if boundary is not None else None
        self.session = _compiled(session, "session", "session") if session is not None else None
        # Deny scopes, in the order reasons are reported.
        self._resource_side = self.rcps + self._opt(self.resource)
        principal_side = self.scps + self._opt(self.boundary) + self._opt(self.session) + self.identity
        self._iam_scope = principal_side + self._resource_side

    @staticmethod
    def _opt(p: CompiledPolicy | None) -> tuple[CompiledPolicy, ...]:
        return (p,) if p is not None else ()

    def _endpoint_for(self, req: Request) -> CompiledPolicy | None:
        if self.endpoint is None:
            return None
        vpce = req.context.get("aws:sourcevpce")
        if not vpce or (self.endpoint_id is not None and self.endpoint_id not in vpce):
            return None
        return self.endpoint

    def evaluate(self, req: Request) -> Decision:
        iam = req.kind in IAM_KINDS
        endpoint = self._endpoint_for(req)
        scope = self._iam_scope if iam else self._resource_side
        if endpoint is not None:
            scope += (endpoint,)
        np_denies = iam and self.boundary is not None
        denies = [ref for policy in scope for ref in policy.denies(req, np_denies and policy is self.resource)]
        if denies:
            return Decision(EXPLICIT_DENY, tuple(denies), "explicit Deny")

        filters: list[StatementRef] = []
        for policy in self.scps if iam else ():
            st = policy.allow(req)[1]
            if st is None:
                return Decision(IMPLICIT_DENY, (), f"no statement in {policy.label} (SCP) allows it")
            filters.append(st.ref)
        if endpoint is not None:
            st = endpoint.allow(req)[1]
            if st is None:
                return Decision(IMPLICIT_DENY, (), f"no statement in {endpoint.label} (VPC endpoint policy) allows it")
            filters.append(st.ref)
        return self._iam(req, filters) if iam else self._non_iam(req, filters)

    def behind_access_point(self, req: Request) -> Decision:
        """The bucket's half of a request made through an access point (`req` names the
        bucket's ARN): nothing denies it, the endpoint policy allows the bucket too, and
        the bucket policy allows it for this caller, directly or by naming its account
        (the documented delegation). IAM policies are asked on the access point's half only."""
        endpoint = self._endpoint_for(req)
        scope = self._resource_side + ((endpoint,) if endpoint is not None else ())
        denies = [ref for policy in scope for ref in policy.denies(req)]
        if denies:
            return Decision(EXPLICIT_DENY, tuple(denies), "explicit Deny")
        filters: list[StatementRef] = []
        if endpoint is not None:
            st = endpoint.allow(req)[1]
            if st is None:
                return Decision(IMPLICIT_DENY, (), f"no statement in {endpoint.label} (VPC endpoint policy) allows "
                                                   "the bucket behind the access point")
            filters.append(st.ref)
        level, st = self.resource.allow(req) if self.resource is not None else (NONE, None)
        if level == NONE or st is None:
            return Decision(IMPLICIT_DENY, (), "the bucket policy does not allow requests through this access point")
        return Decision(ALLOW, (st.ref, *filters), "the bucket policy allows it through the access point")

    def _non_iam(self, req: Request, filters: list[StatementRef]) -> Decision:
        """Anonymous, service and federated callers: only a resource policy naming them allows."""
        if req.kind == ANONYMOUS and _own_policy(req) == _TRUST:
            return Decision(IMPLICIT_DENY, (), "STS issues a role's credentials only to a signed or federated caller")
        if self.resource is not None:
            level, st = self.resource.allow(req)
            if level == DIRECT and st is not None:
                return Decision(ALLOW, (st.ref, *filters), f"resource policy allows this {req.kind} caller")
        return Decision(IMPLICIT_DENY, (), f"no resource-policy statement allows this {req.kind} caller")

    def _iam(self, req: Request, filters: list[StatementRef]) -> Decision:
        level, res_st = self.resource.allow(req) if self.resource is not None else (NONE, None)
        ident = next((st for st in (p.allow(req)[1] for p in self.identity) if st is not None), None)
        bound = self.boundary.allow(req)[1] if self.boundary is not None else None
        sess = self.session.allow(req)[1] if self.session is not None else None
        limits_ok = (self.boundary is None or bound is not None) and (self.session is None or sess is not None)
        resource_alone = level == DIRECT or (level == BOUNDED and limits_ok)
        identity_ok = ident is not None and limits_ok
        own = _own_policy(req)

        grants: tuple[_Statement | None, ...] = ()
        if req.action_lower == PASS_ROLE:
            if not req.same_account:
                return Decision(IMPLICIT_DENY, (), "iam:PassRole: a role can be passed only within its own account")
            if identity_ok:
                grants, how = (ident,), "same account, identity policy allows passing the role"
        elif own is not None:
            service, name, what = own
            if self.resource is None:
                return Decision(IMPLICIT_DENY, (), f"{service}: no {name}, and IAM policies alone never grant {what}")
            if level == NONE:
                return Decision(IMPLICIT_DENY, (), f"{service}: the {name} names neither the caller nor its account")
            if req.same_account and resource_alone:
                grants, how = (res_st,), f"{name} allows the caller"
            elif identity_ok:
                grants, how = (res_st, ident), f"{name} and identity policy allow"
        elif req.same_account:
            if resource_alone:
                grants, how = (res_st,), "same account, resource policy allows"
            elif identity_ok:
                grants, how = (ident,), "same account, identity policy allows"
        elif identity_ok and level != NONE:
            grants, how = (ident, res_st), "cross account, identity and resource policy allow"
        if not grants:
            return Decision(IMPLICIT_DENY, (), self._why_not(req, level, ident is not None, bound, sess))
        refs = [st.ref for st in grants + (bound, sess) if st is not None] + filters
        return Decision(ALLOW, tuple(refs), how)

    def _why_not(
        self, req: Request, level: int, ident: bool, bound: _Statement | None, sess: _Statement | None
    ) -> str:
        """Say which required allow is missing."""
        if self.boundary is not None and bound is None and (ident or level == BOUNDED):
            return "the permissions boundary does not allow it"
        if self.session is not None and sess is None and (ident or level == BOUNDED):
            return "the session policy does not allow it"
        if req.action_lower == PASS_ROLE:
            return "no identity-based policy allows passing the role (iam:PassRole has no resource policy)"
        own = _own_policy(req)
        if not req.same_account or own is not None:
            if not ident:
                named = f"when the {own[1]} names only the account" if own is not None else "for delegation"
                return f"no identity-based policy allows it (required cross account, and {named})"
            if self.resource is None:
                return "cross account and no resource policy"
            return "the resource policy does not allow this caller"
        if level == ACCOUNT:
            return "the resource policy only names the account, which delegates to IAM, and no identity policy allows it"
        return "no identity-based or resource-based policy allows it"


# Resources whose own policy must allow, as AWS documents for key policies and role
# trust policies: (service, the policy's name, what IAM alone never grants).
_KMS = ("KMS", "key policy", "key use")
_TRUST = ("STS", "trust policy", "a role's credentials")


def _own_policy(req: Request) -> tuple[str, str, str] | None:
    """The policy that must itself allow this request, if its resource has one: a KMS key's,
    or, for STS on a role, the role's trust policy."""
    if req.resource_service == "kms":
        return _KMS
    if req.resource_service == "iam" and req.action_lower.startswith("sts:") and ":role/" in req.resource:
        return _TRUST
    return None


def both(access_point: Decision, bucket: Decision) -> Decision:
    """A request through an access point: its policy and the bucket's must both permit it."""
    if EXPLICIT_DENY in (access_point.effect, bucket.effect):
        denies = tuple(ref for d in (access_point, bucket) if d.effect == EXPLICIT_DENY for ref in d.statements)
        return Decision(EXPLICIT_DENY, denies, "explicit Deny")
    if access_point.allowed and bucket.allowed:
        return Decision(ALLOW, access_point.statements + bucket.statements,
                        f"{access_point.reason}; {bucket.reason}")
    return access_point if not access_point.allowed else bucket


def evaluate(request: Request, **policies: object) -> Decision:
    """One-shot evaluation; the keyword arguments are those of `Evaluator`."""
    return Evaluator(**policies).evaluate(request)  # type: ignore[arg-type]
