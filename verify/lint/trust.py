"""Role trust policy checks: who may obtain a role, and how narrowly an identity provider's
tokens are pinned.

A trust policy is the role's resource policy for STS (`ROLE_TRUST`): the role is its only
resource, its actions are the STS actions that act on a role, and it alone may read the
claims of the identity providers the role trusts (`<issuer>:sub`), which is why a trust
policy is read against `claims_catalogue`. Ids are Access Analyzer's where it has a check;
the few it has no counterpart for are slpc's own (`access_analyzer=False`).
"""

from __future__ import annotations

import re
import weakref
from typing import Any, Callable, Iterator

from slpc.policy.matching import wildcard_match
from slpc.verify.catalogue import Catalogue, ConditionKey

from .registry import ROLE_TRUST, Context, FindingType, Operator, Stmt, check, items, memo, parse_operator, texts

E, SW, W = FindingType.ERROR, FindingType.SECURITY_WARNING, FindingType.WARNING
TRUST = {ROLE_TRUST}

# The token claims IAM offers as `<issuer>:<claim>` condition keys, with their types: an
# audience may be one value or a list, Cognito's amr is always a list.
CLAIMS = {"aud": ("String", "ArrayOfString"), "amr": ("ArrayOfString",), "azp": ("String",), "sub": ("String",),
          "oaud": ("String",), "id": ("String",), "app_id": ("String",), "user_id": ("String",)}
# The claims that name the audience a token was minted for (Facebook and Login with Amazon say app_id).
AUDIENCE = ("aud", "app_id")
GITHUB = "token.actions.githubusercontent.com"
_EKS = re.compile(r"oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/\w+", re.IGNORECASE)
# Operators under which a claim condition narrows who gets in (a negation or ForAllValues does not).
_NARROWING = {"StringEquals", "StringEqualsIgnoreCase", "StringLike"}
# Keys that confine "AWS": "*" to known callers.
_PRINCIPAL_SCOPES = {"aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths"}
# A Federated principal names a SAML or OIDC provider by its IAM ARN, or a web identity provider by its domain.
_PROVIDER_ARN = re.compile(r"arn:[\w-]+:iam::\d{12}:(saml-provider/[\w.+=,@-]+|oidc-provider/\S+)")
_DOMAIN = re.compile(r"([a-z0-9-]+\.)+[a-z]{2,}", re.IGNORECASE)
ROLES_ANYWHERE = "rolesanywhere.amazonaws.com"
# What IAM Roles Anywhere needs to hand out a role's credentials.
ROLES_ANYWHERE_ACTIONS = ("sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession")
_VARIABLE = re.compile(r"\$\{[^}]*\}")
_WILDCARD = re.compile(r"[*?]")


def is_issuer(prefix: str) -> bool:
    """Whether a condition key prefix is an identity provider's (a host, maybe with a path),
    never a service prefix, which has no dot."""
    return "." in prefix


class _WithClaims:
    """The catalogue as IAM reads a trust policy: it also knows each identity provider's
    claim keys. The catalogue's memo holds it, so it holds the catalogue weakly (else
    neither would ever be freed)."""

    def __init__(self, catalogue: Catalogue):
        self._catalogue = weakref.proxy(catalogue)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalogue, name)

    def knows_key_prefix(self, prefix: str) -> bool:
        return is_issuer(prefix) or self._catalogue.knows_key_prefix(prefix)

    def condition_key(self, name: str) -> ConditionKey | None:
        prefix, _, claim = name.partition(":")
        if not is_issuer(prefix):
            return self._catalogue.condition_key(name)
        types = CLAIMS.get(claim.lower())
        return ConditionKey(name, types) if types else None


def claims_catalogue(catalogue: Catalogue) -> Any:
    """The catalogue a trust policy is read against: one per catalogue, so its verdicts
    on entries are reused across a build's trust policies."""
    view = memo(catalogue, "claims catalogue")
    if not view:
        view["catalogue"] = _WithClaims(catalogue)
    return view["catalogue"]


# --------------------------------------------------------------------------- #
# Reading statements.


def _allows(ctx: Context) -> Iterator[Stmt]:
    return (s for s in ctx.statements if s.get("Effect") == "Allow")


def _principals(s: Stmt, kind: str) -> tuple[str, ...]:
    p = s.get("Principal")
    values = p.get(kind) if isinstance(p, dict) else None
    return (values,) if isinstance(values, str) else tuple(v for v in values or () if isinstance(v, str))


def _issuer(federated: str) -> str | None:
    """The OIDC issuer a Federated principal trusts: an IAM OIDC provider's URL, or a web
    identity provider's domain (accounts.google.com); None for a SAML provider."""
    if federated.startswith("arn:"):
        _, sep, url = federated.partition(":oidc-provider/")
        return url if sep else None
    return federated if is_issuer(federated) else None


def _issuers(s: Stmt) -> list[str]:
    return [i for f in _principals(s, "Federated") if (i := _issuer(f))]


def _conditions(s: Stmt) -> Iterator[tuple[Operator, str, tuple[str, ...]]]:
    """(operator, key, values) for each well-formed condition of the statement."""
    block = s.get("Condition")
    for op_text, keys in block.items() if isinstance(block, dict) else ():
        op = parse_operator(op_text)
        for key, values in keys.items() if op and isinstance(keys, dict) else ():
            yield op, key, texts(values)


def _claim(s: Stmt, issuer: str, claims: tuple[str, ...]) -> list[tuple[Operator, tuple[str, ...]]]:
    """(operator, values) of each narrowing condition on one of the issuer's claims."""
    keys = {f"{issuer}:{c}".lower() for c in claims}
    return [(op, values) for op, key, values in _conditions(s)
            if key.lower() in keys and op.base in _NARROWING and op.qualifier != "ForAllValues"]


def _patterns(found: list[tuple[Operator, tuple[str, ...]]]) -> list[str]:
    """The values that a like-operator matches as patterns (a policy variable is no wildcard)."""
    return [v for op, values in found if op.base == "StringLike" for v in values if _WILDCARD.search(_VARIABLE.sub("", v))]


def _oidc(ctx: Context, trusted: Callable[[str], bool] = lambda issuer: True) -> Iterator[tuple[Stmt, str]]:
    """(statement, issuer) for each OIDC issuer that an Allow statement trusts, of those `trusted` picks."""
    return ((s, issuer) for s in _allows(ctx) for issuer in _issuers(s) if trusted(issuer))


def _github(issuer: str) -> bool:
    return issuer == GITHUB or issuer.startswith(GITHUB + "/")  # (a GitHub Enterprise issuer has a path)


def _eks(issuer: str) -> bool:
    return _EKS.fullmatch(issuer) is not None


# --------------------------------------------------------------------------- #
# Grammar: what IAM refuses in a trust policy.


@check("ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE", E, "A trust policy statement with Resource or NotResource.",
       resource_types=TRUST)
def trust_resource(ctx: Context):
    for s in ctx.statements:
        for name in ("Resource", "NotResource"):
            if name in s.body:
                yield f"{s.path}.{name}", f"A trust policy covers only its own role; IAM refuses {name}. Remove it."


@check("ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL", E, "A trust policy statement with NotPrincipal.",
       resource_types=TRUST)
def trust_not_principal(ctx: Context):
    for s in ctx.statements:
        if "NotPrincipal" in s.body:
            yield f"{s.path}.NotPrincipal", "Trust policies do not support NotPrincipal. Name who may obtain the role in Principal."


@check("ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL", E, 'A trust policy statement with "Principal": "*".',
       resource_types=TRUST)
def trust_wildcard_principal(ctx: Context):
    for s in ctx.statements:
        if s.get("Principal") == "*":
            yield f"{s.path}.Principal", 'Trust policies do not support "Principal": "*". Name the principals.'


def _role_actions(cat: Catalogue) -> tuple[str, ...]:
    """The STS actions that act on a role, the only ones a trust policy can grant."""
    known = memo(cat, "role actions")
    if not known:
        known["sts"] = tuple(a.full_name for a in cat.service("sts").actions() if "role" in a.resource_types)
    return known["sts"]


@check("UNSUPPORTED_ACTION_IN_POLICY", E, "A trust policy action that is no STS action on a role (e.g. s3:GetObject).",
       resource_types=TRUST)
def unsupported_action(ctx: Context):
    roles = _role_actions(ctx.catalogue)
    for s in ctx.statements:
        for path, action in items(s, "Action"):
            if not any(wildcard_match(action, r, ignore_case=True) for r in roles):
                yield path, f"A trust policy grants only STS actions on its role ({', '.join(roles)}), not {action}."


@check("INVALID_FEDERATED_PRINCIPAL_SYNTAX_IN_ROLE_TRUST_POLICY", E,
       "A Federated principal that is neither a provider's IAM ARN nor a domain name.", resource_types=TRUST)
def invalid_federated(ctx: Context):
    for s in ctx.statements:
        for value in _principals(s, "Federated"):
            if not (_PROVIDER_ARN.fullmatch(value) or _DOMAIN.fullmatch(value)):
                yield f"{s.path}.Principal.Federated", (f"{value!r} names no identity provider. Use the provider's ARN "
                                                        "(saml-provider/ or oidc-provider/) or its domain name.")


# Who makes each STS request that issues a role's credentials.
_MADE_BY = {"sts:assumerole": "an AWS or service principal", "sts:assumerolewithsaml": "a SAML provider",
            "sts:assumerolewithwebidentity": "an OIDC provider"}


def _made_by(kind: str, value: str) -> str | None:
    """Which of `_MADE_BY`'s principals a Principal entry is; None for a malformed Federated one."""
    if kind != "Federated":
        return _MADE_BY["sts:assumerole"]
    if ":saml-provider/" in value:
        return _MADE_BY["sts:assumerolewithsaml"]
    return _MADE_BY["sts:assumerolewithwebidentity"] if _issuer(value) else None


@check("MISMATCHED_ACTION_FOR_PRINCIPAL", E,
       "An STS action the statement's principals cannot make (e.g. AssumeRoleWithSAML for an AWS account).",
       resource_types=TRUST)
def mismatched_action(ctx: Context):
    for s in _allows(ctx):
        principal = s.get("Principal")
        named = [(k, v) for k in principal for v in _principals(s, k)] if isinstance(principal, dict) else []
        for path, action in items(s, "Action"):
            needs = _MADE_BY.get(action.lower())
            misfits = [v for k, v in named if needs and _made_by(k, v) not in (needs, None)]
            if misfits:
                yield path, f"Only {needs} makes {action}, not {', '.join(misfits)}."


@check("MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY", E,
       f"A trust in {ROLES_ANYWHERE} without all of {', '.join(ROLES_ANYWHERE_ACTIONS)}.", resource_types=TRUST)
def roles_anywhere_actions(ctx: Context):
    for s in _allows(ctx):
        if ROLES_ANYWHERE in _principals(s, "Service"):
            granted = s.strings["Action"]
            missing = [a for a in ROLES_ANYWHERE_ACTIONS
                       if not any(wildcard_match(g, a, ignore_case=True) for g in granted)]
            if missing:
                yield s.path, (f"IAM Roles Anywhere obtains a role only with {', '.join(ROLES_ANYWHERE_ACTIONS)}. "
                               f"Add {', '.join(missing)}.")


@check("ROLE_TRUST_POLICY_ANY_AWS_PRINCIPAL", SW,
       'A trust policy that allows "AWS": "*" without confining the caller\'s account.',
       access_analyzer=False, resource_types=TRUST)
def any_aws_principal(ctx: Context):
    for s in _allows(ctx):
        if "*" in _principals(s, "AWS") and not any(key.lower() in _PRINCIPAL_SCOPES for _, key, _ in _conditions(s)):
            yield f"{s.path}.Principal", ('Any principal of any AWS account may obtain this role. Confine it with '
                                          'aws:PrincipalOrgID, aws:PrincipalAccount or aws:PrincipalArn.')


# --------------------------------------------------------------------------- #
# OIDC: a trusted provider mints tokens for many audiences and subjects.


@check("MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL", SW, "An OIDC provider trusted without any condition on its claims.",
       resource_types=TRUST)
def oidc_without_condition(ctx: Context):
    for s, issuer in _oidc(ctx):
        if not any(key.lower().startswith(f"{issuer.lower()}:") for _, key, _ in _conditions(s)):
            yield s.path, (f"Any token {issuer} issues obtains this role. "
                           f"Add conditions on its claims ({issuer}:aud, {issuer}:sub).")


@check("MISSING_AUDIENCE_CONDITION_KEY_FOR_OIDC_PRINCIPAL", SW,
       "An OIDC provider trusted without pinning the token audience (:aud).", access_analyzer=False, resource_types=TRUST)
def oidc_without_audience(ctx: Context):
    for s, issuer in _oidc(ctx):
        if not _claim(s, issuer, AUDIENCE):
            yield s.path, (f"Tokens {issuer} mints for other audiences (another app or identity pool) obtain this role. "
                           f"Require {issuer}:aud.")


@check("MISSING_GITHUB_REPO_CONDITION_KEY", SW, "GitHub Actions trusted without a :sub condition naming the repository.",
       resource_types=TRUST)
def github_without_sub(ctx: Context):
    for s, issuer in _oidc(ctx, _github):
        if not _claim(s, issuer, ("sub",)):
            yield s.path, (f"Workflows of any GitHub repository obtain this role. "
                           f"Require {issuer}:sub with the repository and ref.")


@check("GITHUB_SUB_WILDCARD_OWNER", SW, "A GitHub Actions :sub pattern that leaves the repository owner open.",
       access_analyzer=False, resource_types=TRUST)
def github_any_owner(ctx: Context):
    for s, issuer in _oidc(ctx, _github):
        for pattern in _patterns(_claim(s, issuer, ("sub",))):
            if "/" not in _WILDCARD.split(pattern, maxsplit=1)[0]:
                yield s.path, (f"The {issuer}:sub pattern {pattern!r} admits repositories of any owner. "
                               "Name the owner and repository.")


@check("SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED", W, "A wildcard in a GitHub Actions :sub condition.",
       resource_types=TRUST)
def github_wildcard_sub(ctx: Context):
    for s, issuer in _oidc(ctx, _github):
        for pattern in _patterns(_claim(s, issuer, ("sub",))):
            yield s.path, (f"The {issuer}:sub pattern {pattern!r} admits more workflows than one. "
                           "Name the repository and ref.")


@check("EKS_SERVICE_ACCOUNT_NOT_PINNED", SW,
       "An EKS (IRSA) issuer trusted with no :sub, or a :sub pattern, so not one service account.",
       access_analyzer=False, resource_types=TRUST)
def eks_sub_not_pinned(ctx: Context):
    for s, issuer in _oidc(ctx, _eks):
        found = _claim(s, issuer, ("sub",))
        if not found or _patterns(found):
            yield s.path, (f"More service accounts of the cluster than one obtain this role. Require {issuer}:sub "
                           "to equal system:serviceaccount:NAMESPACE:NAME.")
