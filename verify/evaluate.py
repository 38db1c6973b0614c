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
- Anonymous callers and AWS service principals are allowed only by a resource
  policy whose Principal matches them (`*`, `{"AWS": "*"}`, `{"Service": ...}`).
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
from typing import Callable, Iterable, Sequence, Union

from slpc.targets.document import PolicyDocument, Principal, Statement
from slpc.verify.conditions import Context, Predicate, compile_condition, glob_source, parse_template, plain
from slpc.verify.matching import has_wildcard, wildcard_regex
from slpc.verify.request import ANONYMOUS, IAM_KINDS, ROOT, SERVICE, SESSION, USER, Request

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

KINDS = ("identity", "resource", "endpoint", "scp", "rcp", "boundary", "session")

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
    effect: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    statements: tuple[StatementRef, ...]  # the deciding statements
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW


# --------------------------------------------------------------------------- #
# Compiling statements


@lru_cache(maxsize=16384)
def _regex(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)


class _Principals:
    """A Principal/NotPrincipal element, split for set look-ups."""

    __slots__ = ("wildcard", "arns", "accounts", "services")

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

    def grant(self, req: Request) -> int:
        kind = req.kind
        if kind == SERVICE:
            return DIRECT if self.wildcard or req.principal.lower() in self.services else NONE  # type: ignore[union-attr]
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
        if req.kind == ANONYMOUS:
            return False
        names_listed = req.kind == ROOT or req.identities <= self.arns
        return names_listed and req.principal_account in self.accounts


def _pattern_matcher(patterns: Sequence[str], ignore_case: bool) -> Callable[[str], bool]:
    """Wildcard patterns (no variables) as one test: set look-up, then one regex."""
    if "*" in patterns:
        return lambda _: True
    exact = frozenset(p.lower() if ignore_case else p for p in patterns if not has_wildcard(p))
    wild = [wildcard_regex(p, ignore_case).pattern for p in patterns if has_wildcard(p)]
    if not wild:
        return exact.__contains__
    rx = re.compile("|".join(f"(?:{w})" for w in wild), re.DOTALL | (re.IGNORECASE if ignore_case else 0))
    return lambda s: s in exact or rx.fullmatch(s) is not None


def _resource_matcher(patterns: Sequence[str], version: str | None) -> Callable[[str, Context], bool]:
    """Resource ARN patterns, case-sensitive, with policy variables resolved per request."""
    templates = [parse_template(p, version) for p in patterns]
    static = _pattern_matcher([p for p, t in zip(patterns, templates) if t is None], False)
    dynamic = [t for t in templates if t is not None]
    if not dynamic:
        return lambda resource, _ctx: static(resource)

    def match(resource: str, ctx: Context) -> bool:
        if static(resource):
            return True
        for t in dynamic:
            value = t.resolve(ctx)
            if value is not None and _regex(glob_source(value)).fullmatch(resource):
                return True
        return False

    return match


class _Statement:
    __slots__ = ("ref", "deny", "actions", "principals", "not_principal", "resources", "conditions")

    def __init__(
        self,
        ref: StatementRef,
        actions: Callable[[str], bool],
        principals: _Principals | None,
        not_principal: bool,
        resources: Callable[[str, Context], bool] | None,
        conditions: tuple[Predicate, ...],
    ) -> None:
        self.ref = ref
        self.deny = ref.effect == "Deny"
        self.actions = actions
        self.principals = principals
        self.not_principal = not_principal
        self.resources = resources
        self.conditions = conditions

    def grant(self, req: Request, not_principal_denies: bool = False) -> int:
        """The reach of this statement for the request; NONE if it does not apply."""
        p = self.principals
        if p is None:
            level = DIRECT
        elif self.not_principal:
            if not (not_principal_denies or not p.covers(req)):
                return NONE
            level = BOUNDED if req.kind in IAM_KINDS and req.kind != ROOT else DIRECT
        else:
            level = p.grant(req)
        if not level:
            return NONE
        if self.resources is not None and not self.resources(req.resource, req.context):
            return NONE
        ctx = req.context
        for cond in self.conditions:
            if not cond(ctx):
                return NONE
        return level


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
        resources = None if "*" in st.resources else _resource_matcher(st.resources, version)
    elif st.not_resources:
        listed = _resource_matcher(st.not_resources, version)
        resources = lambda r, ctx: not listed(r, ctx)  # noqa: E731
    elif kind == "resource" or deny:
        resources = None
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
    element = st.principal or st.not_principal
    return _Statement(
        ref,
        actions,
        _Principals(element) if element is not None else None,
        st.not_principal is not None,
        resources,
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
        self._by_action: dict[str, tuple[tuple[_Statement, ...], tuple[_Statement, ...]]] = {}

    def candidates(self, action: str) -> tuple[tuple[_Statement, ...], tuple[_Statement, ...]]:
        """(Deny, Allow) statements whose Action/NotAction covers `action` (lower case)."""
        hit = self._by_action.get(action)
        if hit is None:
            if len(self._by_action) >= _CACHE_LIMIT:
                self._by_action.clear()
            matching = [s for s in self.statements if s.actions(action)]
            hit = (tuple(s for s in matching if s.deny), tuple(s for s in matching if not s.deny))
            self._by_action[action] = hit
        return hit

    def first_allow(self, req: Request) -> _Statement | None:
        for st in self.candidates(req.action_lower)[1]:
            if st.grant(req):
                return st
        return None

    def best_grant(self, req: Request) -> tuple[int, _Statement | None]:
        best, best_st = NONE, None
        for st in self.candidates(req.action_lower)[1]:
            level = st.grant(req)
            if level > best:
                best, best_st = level, st
                if level == DIRECT:
                    break
        return best, best_st


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


def _labels(refs: Iterable[StatementRef]) -> str:
    return ", ".join(str(r) for r in refs)


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
        self._principal_side = self.scps + self._opt(self.boundary) + self._opt(self.session) + self.identity
        self._resource_side = self.rcps + self._opt(self.resource)

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
        scope = (self._principal_side if iam else ()) + self._resource_side + self._opt(endpoint)
        np_denies = iam and self.boundary is not None
        action = req.action_lower
        denies = [
            st.ref
            for policy in scope
            for st in policy.candidates(action)[0]
            if st.grant(req, np_denies and policy is self.resource)
        ]
        if denies:
            return Decision(EXPLICIT_DENY, tuple(denies), f"explicit Deny: {_labels(denies)}")

        filters: list[StatementRef] = []
        for policy in (self.scps if iam else ()) + self._opt(endpoint):
            st = policy.first_allow(req)
            if st is None:
                return Decision(IMPLICIT_DENY, (), f"{policy.label} ({policy.kind}) allows no such request")
            filters.append(st.ref)
        if not iam:
            return self._non_iam(req, filters)
        return self._iam(req, filters)

    def _non_iam(self, req: Request, filters: list[StatementRef]) -> Decision:
        """Anonymous and service callers: only a resource policy naming them allows."""
        if self.resource is not None:
            level, st = self.resource.best_grant(req)
            if level == DIRECT and st is not None:
                return Decision(ALLOW, (st.ref, *filters), f"{req.kind} caller allowed by {st.ref}")
        return Decision(IMPLICIT_DENY, (), f"no resource-policy statement allows this {req.kind} caller")

    def _iam(self, req: Request, filters: list[StatementRef]) -> Decision:
        level, res_st = self.resource.best_grant(req) if self.resource is not None else (NONE, None)
        ident = next((st for st in (p.first_allow(req) for p in self.identity) if st is not None), None)
        bound = self.boundary.first_allow(req) if self.boundary is not None else None
        sess = self.session.first_allow(req) if self.session is not None else None
        limits_ok = (self.boundary is None or bound is not None) and (self.session is None or sess is not None)
        limit_refs = [st.ref for st in (bound, sess) if st is not None]
        resource_alone = level == DIRECT or (level == BOUNDED and limits_ok)
        identity_ok = ident is not None and limits_ok

        def allow(grants: list[_Statement | None], how: str) -> Decision:
            refs = [st.ref for st in grants if st is not None] + limit_refs + filters
            return Decision(ALLOW, tuple(refs), f"{how}: {_labels(refs)}")

        if req.resource_service == "kms":
            if self.resource is None:
                return Decision(IMPLICIT_DENY, (), "KMS: no key policy, and IAM policies alone never grant key use")
            if level == NONE:
                return Decision(IMPLICIT_DENY, (), "KMS: the key policy neither names the caller nor its account")
            if req.same_account and resource_alone:
                return allow([res_st], "key policy names the caller")
            if identity_ok:
                return allow([res_st, ident], "key policy and identity policy allow")
        elif req.same_account:
            if resource_alone:
                return allow([res_st], "same account, resource policy allows")
            if identity_ok:
                return allow([ident], "same account, identity policy allows")
        elif identity_ok and level != NONE:
            return allow([ident, res_st], "cross account, identity and resource policy allow")
        return Decision(IMPLICIT_DENY, (), self._why_not(req, level, ident is not None, bound, sess))

    def _why_not(
        self, req: Request, level: int, ident: bool, bound: _Statement | None, sess: _Statement | None
    ) -> str:
        """Say which required allow is missing."""
        if self.boundary is not None and bound is None and (ident or level == BOUNDED):
            return "the permissions boundary does not allow it"
        if self.session is not None and sess is None and (ident or level == BOUNDED):
            return "the session policy does not allow it"
        if not req.same_account or req.resource_service == "kms":
            if not ident:
                return "no identity-based policy allows it (required cross account and for KMS delegation)"
            if self.resource is None:
                return "cross account and no resource policy"
            return "the resource policy does not allow this caller"
        if level == ACCOUNT:
            return "the resource policy only names the account, which delegates to IAM, and no identity policy allows it"
        return "no identity-based or resource-based policy allows it"


def evaluate(request: Request, **policies: object) -> Decision:
    """One-shot evaluation; the keyword arguments are those of `Evaluator`."""
    return Evaluator(**policies).evaluate(request)  # type: ignore[arg-type]
