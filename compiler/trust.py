"""Who may become a role: the ways to obtain a role's credentials, and their checks.

Each `assumed_by` line of a role is one `Way`; `passed_by` names who may hand the role
to a service (iam:PassRole), `admins` who may change its policies and trust. The AWS
facts of each way (which principal STS sees, which conditions pin it) are here; the
trust policy that states them is built in targets/trust.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slpc.dsl import ast
from slpc.diagnostics import did_you_mean

from . import values
from .model import Principal, Way

SERVICE, EKS_POD, IRSA, GITHUB, IDENTITY_CENTER, ROLE, ACCOUNT = (
    "service", "eks_pod", "irsa", "github", "identity_center", "role", "account")
WAYS = (SERVICE, EKS_POD, IRSA, GITHUB, IDENTITY_CENTER, ROLE, ACCOUNT)


@dataclass(frozen=True)
class TrustedService:
    """An AWS service that assumes roles for the workloads it runs."""

    principal: str  # the service principal in the trust policy
    # The aws:SourceArn pattern ({partition}, {region}, {account}) where the service sets
    # aws:SourceArn and aws:SourceAccount when it assumes the role; None where it sets
    # neither (EC2 instance profiles, Lambda): iam:PassRole alone decides who uses it there.
    source_arn: str | None
    runs: str  # what it runs as the role, for messages


TRUSTED_SERVICES: dict[str, TrustedService] = {
    "sagemaker": TrustedService("sagemaker.amazonaws.com", "arn:{partition}:sagemaker:{region}:{account}:*",
                                "training, processing and transform jobs, models and endpoints"),
    "bedrock": TrustedService("bedrock.amazonaws.com", "arn:{partition}:bedrock:{region}:{account}:*",
                              "model customization and import jobs"),
    "ecs_tasks": TrustedService("ecs-tasks.amazonaws.com", "arn:{partition}:ecs:{region}:{account}:*",
                                "ECS tasks"),
    "ec2": TrustedService("ec2.amazonaws.com", None, "EC2 instances (instance profiles)"),
    "lambda": TrustedService("lambda.amazonaws.com", None, "Lambda functions"),
    # API Gateway assumes an integration's credentials role without setting aws:SourceArn or
    # aws:SourceAccount (docs/language.md#integration-role): a condition on them would break it.
    "apigateway": TrustedService("apigateway.amazonaws.com", None,
                                 "API integrations that name the role as their credentials"),
}

# EKS Pod Identity: the service principal, the actions it calls, and the session tags it sets.
POD_IDENTITY = "pods.eks.amazonaws.com"
POD_TAGS = {"cluster": "eks-cluster-arn", "namespace": "kubernetes-namespace",
            "service_account": "kubernetes-service-account"}
GITHUB_ISSUER = "token.actions.githubusercontent.com"
OIDC_AUDIENCE = "sts.amazonaws.com"
# The path IAM Identity Center gives the roles of permission sets, and their names:
# AWSReservedSSO_<permission set>_<16 hexadecimal characters>.
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
SSO_SUFFIX_LENGTH = 16

# The qualifier words each way takes, and whether each is required.
QUALIFIERS: dict[str, dict[str, bool]] = {
    SERVICE: {}, IDENTITY_CENTER: {}, ROLE: {}, ACCOUNT: {},
    EKS_POD: {"namespace": True, "service_account": True},
    IRSA: {"namespace": True, "service_account": True},
    GITHUB: {"ref": False, "environment": False},
}
SESSION_MIN_S, SESSION_MAX_S, CHAINED_SESSION_MAX_S = 3600, 43200, 3600

_CLUSTER = re.compile(r"arn:([a-z-]+):eks:([a-z0-9-]+):(\d{12}):cluster/([A-Za-z0-9][A-Za-z0-9_-]{0,99})")
_ISSUER = re.compile(r"oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/[0-9A-Fa-f]{32}")
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_PERMISSION_SET = re.compile(r"[\w+=,.@-]{1,32}", re.ASCII)
_K8S_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_REF = re.compile(r"refs/(?:heads|tags)/[^\s*?]+")
_ENVIRONMENT = re.compile(r"[^\s*?\"'`,;:\\]{1,255}")


def cluster_account(arn: str) -> str | None:
    m = _CLUSTER.fullmatch(arn)
    return m.group(3) if m else None


def kubernetes_way_ok(kind: str, subject: str, namespace: str, service_account: str) -> bool:
    """Whether `assumed_by eks_pod|irsa SUBJECT namespace NS service_account SA` has
    well-formed values (the checks of E424, for tools that write specs: `slpc import`)."""
    pattern = _CLUSTER if kind == EKS_POD else _ISSUER
    return bool(pattern.fullmatch(subject.removeprefix("https://")) and _K8S_NAME.fullmatch(namespace)
                and _K8S_NAME.fullmatch(service_account))


def sso_role_pattern(partition: str, account: str, permission_set: str) -> str:
    """The ARNs of the roles IAM Identity Center creates for one permission set in an
    account (any region's path), and no other permission set's."""
    return (f"arn:{partition}:iam::{account}:role{SSO_PATH}*AWSReservedSSO_{permission_set}_"
            + "?" * SSO_SUFFIX_LENGTH)


class TrustChecker:
    """The trust checks of one spec, reporting through the compiler's checker (`c`)."""

    def __init__(self, c, accounts: set[str]):
        self.c = c
        self.accounts = accounts  # every account the spec names

    def role(self, r: ast.Role, p: Principal) -> Principal | None:
        """The principal with its trust, passers, admins and session; None after an error."""
        c = self.c
        if not r.block:
            c.warn("W430", f"role `{p.name}` does not say who may obtain it", r.name.span,
                   "slpc writes no trust policy for it, so whoever its trust policy admits holds its grants: "
                   "give it a block with `assumed_by` lines")
            return p
        ways = [self.way(w, p) for w in r.assumed_by]
        passers = [self.passer(x, r, p) for x in r.passed_by]
        admins = c.principals(r.admins, f"admin of role `{p.name}`", p.account)
        session = self.session(r, p)
        if None in ways or None in passers or admins is None or session is False:
            return None
        if not ways:
            c.warn("W431", f"nothing can obtain role `{p.name}`", r.name.span,
                   "its trust policy admits nobody; add `assumed_by` lines, or remove the role")
        passed = {service for _, service in passers}
        for w in ways:
            principal = POD_IDENTITY if w.via == EKS_POD else (
                TRUSTED_SERVICES[w.subject].principal if w.via == SERVICE else None)
            if principal is not None and principal not in passed:
                name = EKS_POD if w.via == EKS_POD else w.subject
                c.warn("W431", f"nobody may pass role `{p.name}` to {name}", r.name.span,
                       f"{name} obtains the role only when a role passes it (iam:PassRole): "
                       f"add `passed_by ROLE to {name}`")
        if not r.admins:
            c.warn("W435", f"role `{p.name}` has no admins", r.name.span,
                   "the SCP denies changing its policies and trust to everyone; only the management account "
                   "can: add `admins [ROLE]`")
        return Principal(p.name, p.arn, p.account, tuple(sorted(set(ways), key=_order)),
                         tuple(sorted(set(passers))), admins, session or None)

    def way(self, w: ast.Way, p: Principal) -> Way | None:
        c = self.c
        kind = w.kind.text
        if kind not in WAYS:
            c.err("E420", f"unknown way to obtain a role `{kind}`", w.kind.span,
                  did_you_mean(kind, WAYS) or "ways: " + ", ".join(WAYS))
            return None
        named = isinstance(w.subject, ast.Name)
        if named != (kind in (SERVICE, ROLE)):
            want = "a name without quotes" if kind in (SERVICE, ROLE) else "a quoted string"
            c.err("E112", f"`assumed_by {kind}` expects {want}", w.subject.span)
            return None
        subject = w.subject.text if named else w.subject.value
        quals = self.qualifiers(w, kind)
        if quals is None:
            return None
        wild = [(node.span, text) for node, text in [(w.subject, subject)] + [(v, v.value) for _, v in w.qualifiers]
                if "*" in text or "?" in text]
        if wild:
            c.err("E422", f'"{wild[0][1]}" is a wildcard: every match could obtain role `{p.name}`', wild[0][0],
                  "name exactly one repository, ref, environment, namespace or service account")
            return None
        return _BY_WAY[kind](self, w, subject, dict(quals), p)

    def qualifiers(self, w: ast.Way, kind: str) -> tuple[tuple[str, str], ...] | None:
        allowed = QUALIFIERS[kind]
        seen: dict[str, str] = {}
        for word, value in w.qualifiers:
            if word.text not in allowed:
                hint = did_you_mean(word.text, allowed) or (
                    f"`assumed_by {kind}` takes: " + ", ".join(allowed) if allowed else
                    f"`assumed_by {kind}` takes nothing after its subject")
                self.c.err("E423", f"`{word.text}` does not qualify `assumed_by {kind}`", word.span, hint)
                return None
            if word.text in seen:
                self.c.err("E423", f"`{word.text}` is given twice", word.span, "keep one")
                return None
            seen[word.text] = value.value
        missing = [q for q, required in allowed.items() if required and q not in seen]
        if kind == GITHUB and len(seen) != 1:
            self.c.err("E423", "`assumed_by github` names exactly one of `ref` or `environment`", w.kind.span,
                       'pin the workflow: `ref "refs/heads/main"` or `environment "prod"`')
            return None
        if missing:
            self.c.err("E423", f"`assumed_by {kind}` needs `{missing[0]}`", w.kind.span,
                       " and ".join(f'{q} "..."' for q in missing) + " pin which workload may obtain the role")
            return None
        return tuple(sorted(seen.items()))

    # -- one method per way: (line, subject, qualifiers, role) -> Way | None ------------ #
    def service(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        if subject not in TRUSTED_SERVICES:
            self.c.err("E421", f"unknown service `{subject}`", w.subject.span,
                       did_you_mean(subject, TRUSTED_SERVICES) or "services: " + ", ".join(TRUSTED_SERVICES))
            return None
        return Way(SERVICE, subject)

    def eks_pod(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        m = _CLUSTER.fullmatch(subject)
        if not m:
            self.c.err("E424", f'"{subject}" is not an EKS cluster ARN', w.subject.span,
                       'a cluster ARN looks like "arn:aws:eks:eu-central-1:111122223333:cluster/NAME"')
            return None
        if not (self.k8s(w, q) and self.known_account(m.group(3), w.subject.span, p)):
            return None
        return Way(EKS_POD, subject, tuple(sorted(q.items())))

    def irsa(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        issuer = subject.removeprefix("https://")
        if not _ISSUER.fullmatch(issuer):
            self.c.err("E424", f'"{subject}" is not an EKS OIDC issuer', w.subject.span,
                       'an issuer looks like "oidc.eks.eu-central-1.amazonaws.com/id/<32 hex digits>" '
                       "(the cluster's OpenID Connect provider URL)")
            return None
        if not self.k8s(w, q):
            return None
        return Way(IRSA, issuer, tuple(sorted(q.items())))

    def github(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        if not _REPO.fullmatch(subject):
            self.c.err("E424", f'"{subject}" is not a GitHub repository', w.subject.span,
                       'write the repository as "OWNER/NAME"')
            return None
        ref, env = q.get("ref"), q.get("environment")
        value = next(v for word, v in w.qualifiers if word.text in q)
        if ref is not None and not _REF.fullmatch(ref):
            self.c.err("E424", f'"{ref}" is not a git ref', value.span,
                       'a ref looks like "refs/heads/main" or "refs/tags/v1"')
            return None
        if env is not None and not _ENVIRONMENT.fullmatch(env):
            self.c.err("E424", f'"{env}" is not a GitHub environment name', value.span,
                       "environment names have no spaces, quotes, commas, colons or semicolons")
            return None
        return Way(GITHUB, subject, tuple(sorted(q.items())))

    def identity_center(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        if not _PERMISSION_SET.fullmatch(subject):
            self.c.err("E424", f'"{subject}" is not a permission set name', w.subject.span,
                       "1-32 letters, digits and +=,.@_-")
            return None
        return Way(IDENTITY_CENTER, subject)

    def role_(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        target = self.c.decls.get(subject)
        if not isinstance(target, ast.Role):
            self.c.unknown(w.subject, ast.Role, "role", f"role that may assume `{p.name}`")
            return None
        if subject == p.name:
            self.c.err("E425", f"role `{p.name}` would trust itself", w.subject.span,
                       "a role that assumes itself gains nothing; remove the line")
            return None
        return Way(ROLE, subject)

    def account(self, w: ast.Way, subject: str, q: dict, p: Principal) -> Way | None:
        if not self.c.value(values.account(subject), w.subject.span):
            return None
        if subject == p.account:
            self.c.err("E425", f"`assumed_by account \"{subject}\"` admits every principal of role `{p.name}`'s "
                       "own account", w.subject.span,
                       "name who may assume it: `assumed_by role NAME` or `assumed_by identity_center \"SET\"`")
            return None
        if not self.known_account(subject, w.subject.span, p):
            return None
        self.c.warn("W432", f"role `{p.name}` trusts account {subject} as a whole", w.subject.span,
                    "any principal that account's administrators allow can obtain it; prefer "
                    "`assumed_by role NAME` with a role of that account")
        return Way(ACCOUNT, subject)

    # -- shared pieces ------------------------------------------------------ #
    def k8s(self, w: ast.Way, q: dict) -> bool:
        for word, value in w.qualifiers:
            if not _K8S_NAME.fullmatch(value.value):
                self.c.err("E424", f'"{value.value}" is not a Kubernetes {word.text.replace("_", " ")} name',
                           value.span, "lower-case letters, digits, `-` and `.`, starting and ending with a "
                           "letter or digit")
                return False
        return True

    def known_account(self, account: str, span, p: Principal) -> bool:
        if account in self.accounts:
            return True
        self.c.err("E425", f"account {account} is not part of the spec", span,
                   f"the spec's accounts: {', '.join(sorted(self.accounts))}; declare a role or network of "
                   f"account {account} first, if role `{p.name}` should trust it")
        return False

    def passer(self, x: ast.Pass, r: ast.Role, p: Principal) -> tuple[str, str] | None:
        c = self.c
        target = c.decls.get(x.passer.text)
        if not isinstance(target, ast.Role):
            c.unknown(x.passer, ast.Role, "role", f"role that passes `{p.name}`")
            return None
        service = x.service.text
        passable = (*TRUSTED_SERVICES, EKS_POD)
        if service not in passable:
            c.err("E421", f"unknown service `{service}`", x.service.span,
                  did_you_mean(service, passable) or "services: " + ", ".join(passable))
            return None
        if not any((w.kind.text == SERVICE and isinstance(w.subject, ast.Name) and w.subject.text == service)
                   or (w.kind.text == service == EKS_POD) for w in r.assumed_by):
            c.err("E426", f"role `{p.name}` is passed to {service}, which may not assume it", x.service.span,
                  f"add `assumed_by service {service}`, or pass it to a service that assumes it")
            return None
        parsed = values.role_arn(target.arn.value)
        if parsed and parsed[1] != p.account:
            c.err("E426", f"`{x.passer.text}` is in account {parsed[1]} and cannot pass role `{p.name}`",
                  x.passer.span, f"IAM passes roles only within their account ({p.account})")
            return None
        return x.passer.text, POD_IDENTITY if service == EKS_POD else TRUSTED_SERVICES[service].principal

    def session(self, r: ast.Role, p: Principal) -> int | bool:
        """The session duration in seconds, 0 when not given, False after an error."""
        d = r.session
        if d is None:
            return 0
        unit = d.unit.text
        if unit not in values.TIME_UNITS_MS:
            self.c.err("E323", f"unknown unit `{unit}`", d.unit.span,
                       did_you_mean(unit, values.TIME_UNITS_MS) or "units: seconds, minutes, hours")
            return False
        seconds = d.amount * values.TIME_UNITS_MS[unit] // 1000
        if not SESSION_MIN_S <= seconds <= SESSION_MAX_S:
            self.c.err("E427", f"a session of {seconds:,} seconds is outside IAM's range of 1 to 12 hours", d.span,
                       "a role's maximum session duration is 3,600 to 43,200 seconds")
            return False
        if seconds > CHAINED_SESSION_MAX_S and any(w.kind.text == ROLE for w in r.assumed_by):
            self.c.warn("W434", f"role `{p.name}` is obtained by role chaining, which AWS caps at one hour",
                        d.span, "sessions of a role assumed with another role's credentials last at most 1 hour")
        return seconds


_BY_WAY = {SERVICE: TrustChecker.service, EKS_POD: TrustChecker.eks_pod, IRSA: TrustChecker.irsa,
           GITHUB: TrustChecker.github, IDENTITY_CENTER: TrustChecker.identity_center, ROLE: TrustChecker.role_,
           ACCOUNT: TrustChecker.account}
_ORDER = {w: i for i, w in enumerate(WAYS)}


def _order(w: Way) -> tuple:
    return _ORDER[w.via], w.subject, w.qualifiers
