"""Role trust policies: who may obtain each role's credentials, as the spec says.

A trust policy is the role's resource policy for STS. One statement per way the spec
declares (compiler/trust.py); a role whose block declares no way gets a trust policy
that admits nobody. A role without a block gets none: the spec leaves its trust unsaid
(warning W430). The identity side of these paths (iam:PassRole for the declared
passers, sts:AssumeRole for chaining roles) is `obtain_statements`.
"""

from __future__ import annotations

from slpc.compiler import trust as T
from slpc.compiler.model import Model, Principal as Role, Way
from slpc.diagnostics import Diagnostic, warning
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement

from .artifact import Artifact
from .grants import sid, unique_sids
from .role_families import role_families

KIND = "iam-role-trust-policy"
ASSUME, TAG, WEB_IDENTITY, SAML = ("sts:AssumeRole", "sts:TagSession", "sts:AssumeRoleWithWebIdentity",
                                   "sts:AssumeRoleWithSAML")
# Every STS action that issues a role's credentials or shapes its session.
STS_OBTAIN = (ASSUME, SAML, WEB_IDENTITY, "sts:SetContext", "sts:SetSourceIdentity", TAG)
PASS_ROLE, PASSED_TO_SERVICE = "iam:PassRole", "iam:PassedToService"
SOURCE_ACCOUNT, SOURCE_ARN, PRINCIPAL_ARN = "aws:SourceAccount", "aws:SourceArn", "aws:PrincipalArn"
# A role that passes more roles than this to the same services names them by family
# (role_families): a platform's deployer passes thousands, which no identity policy can list.
EXACT_PASSES = 20


def root(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"


def oidc_provider(partition: str, account: str, issuer: str) -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{issuer}"


def _service(model: Model, role: Role, w: Way) -> Statement:
    svc = T.TRUSTED_SERVICES[w.subject]
    conditions: tuple[Condition, ...] = ()
    if svc.source_arn is not None:
        dep = model.deployment
        arns = tuple(svc.source_arn.format(partition=dep.partition, region=r, account=role.account)
                     for r in dep.regions)
        conditions = (Condition("StringEquals", SOURCE_ACCOUNT, (role.account,)),
                      Condition("ArnLike", SOURCE_ARN, arns))
    return Statement("Allow", actions=(ASSUME,), conditions=conditions, sid=sid("Service", w.subject),
                     principal=Principal(entries=(("Service", (svc.principal,)),)))


def _eks_pod(model: Model, role: Role, w: Way) -> Statement:
    tags = {"cluster": w.subject, **dict(w.qualifiers)}
    conditions = tuple(Condition("StringEquals", f"aws:RequestTag/{T.POD_TAGS[k]}", (v,)) for k, v in tags.items())
    return Statement("Allow", actions=(ASSUME, TAG), conditions=conditions,
                     sid=sid("EksPod", w.qualifier("namespace"), w.qualifier("service_account")),
                     principal=Principal(entries=(("Service", (T.POD_IDENTITY,)),)))


def _web_identity(role: Role, partition: str, issuer: str, subject: str, name: str) -> Statement:
    return Statement("Allow", actions=(WEB_IDENTITY,), sid=name,
                     conditions=(Condition("StringEquals", f"{issuer}:aud", (T.OIDC_AUDIENCE,)),
                                 Condition("StringEquals", f"{issuer}:sub", (subject,))),
                     principal=Principal(entries=(("Federated", (oidc_provider(partition, role.account, issuer),)),)))


def _irsa(model: Model, role: Role, w: Way) -> Statement:
    ns, sa = w.qualifier("namespace"), w.qualifier("service_account")
    return _web_identity(role, model.deployment.partition, w.subject, f"system:serviceaccount:{ns}:{sa}",
                         sid("Irsa", ns, sa))


def _github(model: Model, role: Role, w: Way) -> Statement:
    (word, value), = w.qualifiers
    return _web_identity(role, model.deployment.partition, T.GITHUB_ISSUER, f"repo:{w.subject}:{word}:{value}",
                         sid("GitHub", w.subject, value))


def _identity_center(model: Model, role: Role, w: Way) -> Statement:
    part = model.deployment.partition
    return Statement("Allow", actions=(ASSUME,), sid=sid("IdentityCenter", w.subject),
                     conditions=(Condition("ArnLike", PRINCIPAL_ARN,
                                           (T.sso_role_pattern(part, role.account, w.subject),)),),
                     principal=Principal.aws(root(part, role.account)))


def _role(model: Model, role: Role, w: Way) -> Statement:
    return Statement("Allow", actions=(ASSUME,), sid=sid("Role", w.subject),
                     principal=Principal.aws(model.principals[w.subject].arn))


def _account(model: Model, role: Role, w: Way) -> Statement:
    return Statement("Allow", actions=(ASSUME,), sid=sid("Account", w.subject),
                     principal=Principal.aws(root(model.deployment.partition, w.subject)))


_BY_WAY = {T.SERVICE: _service, T.EKS_POD: _eks_pod, T.IRSA: _irsa, T.GITHUB: _github,
           T.IDENTITY_CENTER: _identity_center, T.ROLE: _role, T.ACCOUNT: _account}
# A role that nothing may obtain: only an Allow lets anyone in, but a trust policy needs a
# statement, so it denies every AWS principal (trust policies refuse a bare `"*"`).
NOBODY = Statement("Deny", actions=STS_OBTAIN, sid="NobodyObtainsThisRole", principal=Principal.aws("*"))


def trust_policy(model: Model, role: Role) -> PolicyDocument | None:
    """The role's trust policy, or None when the spec leaves its trust unsaid."""
    if role.trust is None:
        return None
    statements = [_BY_WAY[w.via](model, role, w) for w in role.trust]
    return PolicyDocument(unique_sids(statements) if statements else (NOBODY,))


def trust_artifacts(model: Model) -> tuple[list[Artifact], list[Diagnostic]]:
    arts, diags = [], []
    for p in model.principals.values():
        doc = trust_policy(model, p)
        if doc is not None:
            arts.append(Artifact(KIND, p.arn, p.account, f"iam/{p.account}/{p.name}.trust.json", p.name, doc))
        for services, arns in _passes(model, p.name):
            coarse = [a for a in arns if "*" in a]
            if coarse:
                diags.append(warning(
                    "W436", f"`{p.name}` passes {len(_targets(model, p.name, services))} roles to "
                    f"{', '.join(services)}: its identity policy names them as {', '.join(coarse)}", None,
                    "coarser than the spec: the patterns also match roles outside the spec so named, which it "
                    "could pass to these services; the SCP still keeps it from passing the spec's other roles"))
    return arts, diags


def _targets(model: Model, role: str, services: tuple[str, ...]) -> list[Role]:
    return [model.principals[t] for t, svcs in model.obtains(role)[0] if svcs == services]


def _passes(model: Model, role: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(services, the ARNs or families of the roles `role` may pass to exactly them)."""
    out = []
    for services in sorted({svcs for _, svcs in model.obtains(role)[0]}):
        targets = _targets(model, role, services)
        arns = (role_families(model, targets) if len(targets) > EXACT_PASSES
                else tuple(sorted(t.arn for t in targets)))
        out.append((services, arns))
    return out


def obtain_statements(model: Model, role: str) -> list[Statement]:
    """The identity side of the trust paths `role` is part of: iam:PassRole on each role
    it may pass (only to the declared services), sts:AssumeRole on each role it may chain to."""
    out = [Statement("Allow", actions=(PASS_ROLE,), resources=arns,
                     conditions=(Condition("StringEquals", PASSED_TO_SERVICE, services),),
                     sid=sid("PassRolesTo", *(s.split(".")[0] for s in services)))
           for services, arns in _passes(model, role)]
    chains = model.obtains(role)[1]
    if chains:
        out.append(Statement("Allow", actions=(ASSUME,), resources=tuple(sorted(model.principals[t].arn
                                                                                for t in chains)),
                             sid="AssumeRoles"))
    return out
