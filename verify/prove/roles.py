"""Who the spec says may obtain, pass and change a role (claim 7), as terms over a query's caller.

Read from the Model and the AWS facts of compiler/trust.py only, never from the compiled
trust policies or guardrails, so a policy that admits more than the spec declares is a
difference the solver can find. A declared condition (`aws:SourceAccount` equals the
role's account ...) holds when some value of the key satisfies it, as a plain condition
operator reads a key.
"""

from __future__ import annotations

from typing import Callable

import z3

from slpc.compiler import trust as T
from slpc.compiler.model import Model, Principal, Way

from .context import FEDERATED, IAM, SERVICE, Caller, Context
from .encode import matches
from .terms import FALSE, conj, disj, is_text


def _some(ctx: Context, key: str, test: Callable[[z3.SeqRef], z3.BoolRef]) -> z3.BoolRef:
    return disj(*(conj(v.used, test(v.term)) for v in ctx.key(key).values))


def _equals(ctx: Context, key: str, value: str) -> z3.BoolRef:
    return _some(ctx, key, lambda v: is_text(v, value))


def obtains(m: Model, role: Principal, ctx: Context, caller: Caller) -> z3.BoolRef:
    """The caller is one of the role's declared ways, with the declared conditions."""
    ways = {IAM: _as_identity, SERVICE: _as_service, FEDERATED: _as_token}.get(caller.kind)
    return disj(*(ways(m, role, w, ctx, caller) for w in role.trust)) if ways else FALSE


def _as_identity(m: Model, role: Principal, w: Way, ctx: Context, caller: Caller) -> z3.BoolRef:
    """A declared chaining role, a permission set's Identity Center role, or a trusted account."""
    if w.via == T.ROLE:
        return is_text(caller.arn, m.principals[w.subject].arn)
    if w.via == T.IDENTITY_CENTER:
        pattern = T.sso_role_pattern(m.deployment.partition, role.account, w.subject)
        return matches(caller.arn, (pattern,), arn=True)
    if w.via == T.ACCOUNT:
        return is_text(caller.account, w.subject)
    return FALSE


def _as_service(m: Model, role: Principal, w: Way, ctx: Context, caller: Caller) -> z3.BoolRef:
    """A trusted service acting for the role's account, or EKS Pod Identity for the declared pod."""
    if w.via == T.EKS_POD:
        tags = {"cluster": w.subject, **dict(w.qualifiers)}
        return conj(is_text(caller.arn, T.POD_IDENTITY),
                    *(_equals(ctx, f"aws:RequestTag/{T.POD_TAGS[k]}", v) for k, v in sorted(tags.items())))
    if w.via != T.SERVICE:
        return FALSE
    svc = T.TRUSTED_SERVICES[w.subject]
    if svc.source_arn is None:  # EC2, Lambda: who may hand them the role is iam:PassRole's question
        return is_text(caller.arn, svc.principal)
    dep = m.deployment
    arns = tuple(svc.source_arn.format(partition=dep.partition, region=r, account=role.account)
                 for r in dep.regions)
    return conj(is_text(caller.arn, svc.principal), _equals(ctx, "aws:SourceAccount", role.account),
                _some(ctx, "aws:SourceArn", lambda v: matches(v, arns, arn=True)))


def _token(w: Way) -> tuple[str, str] | None:
    """(issuer, the token's subject) of a web identity way."""
    if w.via == T.IRSA:
        return w.subject, f"system:serviceaccount:{w.qualifier('namespace')}:{w.qualifier('service_account')}"
    if w.via == T.GITHUB:
        (word, value), = w.qualifiers
        return T.GITHUB_ISSUER, f"repo:{w.subject}:{word}:{value}"
    return None


def _provider(m: Model, role: Principal, issuer: str) -> str:
    """The issuer's OIDC provider in the role's account, which STS names as the caller."""
    return f"arn:{m.deployment.partition}:iam::{role.account}:oidc-provider/{issuer}"


def providers(m: Model) -> set[str]:
    """The identity providers the spec's roles trust."""
    return {_provider(m, p, token[0]) for p in m.principals.values() for w in p.trust or ()
            if (token := _token(w)) is not None}


def _as_token(m: Model, role: Principal, w: Way, ctx: Context, caller: Caller) -> z3.BoolRef:
    """The role account's OIDC provider for the issuer, with the declared audience and subject."""
    token = _token(w)
    if token is None:
        return FALSE
    issuer, subject = token
    return conj(is_text(caller.arn, _provider(m, role, issuer)), _equals(ctx, f"{issuer}:aud", T.OIDC_AUDIENCE),
                _equals(ctx, f"{issuer}:sub", subject))


def passes(m: Model, role: Principal, ctx: Context, caller: Caller) -> z3.BoolRef:
    """The caller is a declared passer of the role, handing it to a service it is declared for."""
    return disj(*(conj(is_text(caller.arn, m.principals[who].arn), _equals(ctx, "iam:PassedToService", service))
                  for who, service in role.passers))


def changes(m: Model, role: Principal, caller: Caller) -> z3.BoolRef:
    """The caller is one of the role's admins."""
    return disj(*(is_text(caller.arn, m.principals[a].arn) for a in role.admins))
