"""One request to evaluate: who, what, on which resource, in which context.

Everything the evaluator needs per request (lower-cased action, the principal's
identities, a normalised context with the global keys filled in) is computed
once here, so a request can be evaluated against many policy sets cheaply.

A web identity or SAML caller (sts:AssumeRoleWithWebIdentity, ...WithSAML) is named by
its identity provider: the provider's ARN (`arn:aws:iam::<acct>:oidc-provider/<issuer>`,
`...:saml-provider/<name>`) or `federated:<provider>` for a provider named without an
ARN (`federated:accounts.google.com`). It holds no AWS credentials: it is no IAM
principal, so neither identity policies nor SCPs apply to it; the token's claims
(`<issuer>:sub`, `<issuer>:aud`) are context keys.
"""

from __future__ import annotations

from typing import Mapping, Sequence

ContextValue = str | Sequence[str] | bool | int | float

# Principal kinds.
ANONYMOUS = "anonymous"
SERVICE = "service"
USER = "user"
ROLE = "role"  # a role ARN: stands for "some session of this role"
SESSION = "session"  # arn:aws:sts::<acct>:assumed-role/<role>/<session>
ROOT = "root"
FEDERATED = "federated"  # a web identity or SAML caller, named by its identity provider
OTHER = "other"  # federated-user sessions and other ARNs we do not model further
IAM_KINDS = frozenset({USER, ROLE, SESSION, ROOT, OTHER})
FEDERATED_PREFIX = "federated:"


def _text(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalise(context: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        if isinstance(value, (str, bool, int, float)):
            out[key.lower()] = (_text(value),)
        else:
            out[key.lower()] = tuple(_text(v) for v in value)
    return out


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def classify_principal(principal: str | None) -> tuple[str, str | None, str | None]:
    """(kind, account, principal ARN as `aws:PrincipalArn` reports it)."""
    if principal is None or principal == "*":
        return ANONYMOUS, None, None
    if principal.startswith(FEDERATED_PREFIX):
        return FEDERATED, None, None
    parts = _arn_parts(principal)
    if parts is None:
        return (SERVICE if principal.endswith((".amazonaws.com", ".amazonaws.com.cn")) else OTHER), None, None
    partition, service, account, rest = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and rest == "root":
        return ROOT, account, principal
    if service == "iam" and rest.startswith("user/"):
        return USER, account, principal
    if service == "iam" and rest.startswith("role/"):
        return ROLE, account, principal
    if service == "iam" and rest.startswith(("oidc-provider/", "saml-provider/")):
        return FEDERATED, account, None
    if service == "sts" and rest.startswith("assumed-role/"):
        role = rest.split("/")[1]
        return SESSION, account, f"arn:{partition}:iam::{account}:role/{role}"
    return OTHER, account, principal


class Request:
    """An authorisation request; `principal=None` is an anonymous caller.

    The resource account is taken from the argument, else from the resource
    ARN's account field, else assumed to be the principal's account (S3 ARNs
    carry no account; assuming "same account" is the more permissive reading).
    """

    __slots__ = (
        "principal", "action", "resource", "kind", "principal_account",
        "resource_account", "resource_service", "resource_region", "principal_arn", "identities", "action_lower",
        "context", "caller", "provider",
    )  # fmt: skip

    def __init__(
        self,
        principal: str | None,
        action: str,
        resource: str,
        *,
        principal_account: str | None = None,
        resource_account: str | None = None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> None:
        kind, arn_account, principal_arn = classify_principal(principal)
        ctx = _normalise(context or {})
        self.principal = principal
        self.action = action
        self.resource = resource
        self.kind = kind
        # a federated caller's identity provider, as a trust policy's `Federated` names it
        self.provider = principal.removeprefix(FEDERATED_PREFIX) if principal and kind == FEDERATED else None
        self.principal_account = principal_account or arn_account
        parts = _arn_parts(resource)
        self.resource_account = resource_account or (parts[4] if parts and parts[4] else None) or self.principal_account
        self.resource_service = parts[2] if parts else None
        self.resource_region = parts[3] if parts and parts[3] else None
        self.principal_arn = ctx.get("aws:principalarn", (principal_arn,))[0] if kind in IAM_KINDS else None
        self.action_lower = action.lower()
        # Principal-element names that denote this caller (account root aside).
        names = {self.provider} if kind == FEDERATED else {principal} if principal else set()
        if self.principal_arn:
            names.add(self.principal_arn)
        self.identities = frozenset(names)
        # What Principal-element matching depends on, as a cache key.
        self.caller = (kind, principal, self.principal_arn, self.principal_account)
        self._fill(ctx, principal_arn)
        self.context = ctx

    def _fill(self, ctx: dict[str, tuple[str, ...]], principal_arn: str | None) -> None:
        """Add the global keys AWS sets from the request itself, unless given."""
        if self.kind == ANONYMOUS:
            return
        fills: dict[str, str | None] = {}
        if self.kind in IAM_KINDS:
            fills = {
                "aws:principalarn": principal_arn,
                "aws:principalaccount": self.principal_account,
                "aws:principalisawsservice": "false",
            }
            if self.kind == USER:
                fills["aws:username"] = self.principal.rsplit("/", 1)[1]  # type: ignore[union-attr]
        elif self.kind == SERVICE:
            fills = {"aws:principalisawsservice": "true", "aws:principalservicename": self.principal}
        fills["aws:resourceaccount"] = self.resource_account
        # a regional resource is called at its region's endpoint (S3 buckets and IAM roles name none)
        fills["aws:requestedregion"] = self.resource_region
        for key, value in fills.items():
            if value is not None and key not in ctx:
                ctx[key] = (value,)

    @property
    def same_account(self) -> bool:
        return self.principal_account is not None and self.principal_account == self.resource_account

    def __repr__(self) -> str:
        return f"Request({self.principal!r}, {self.action!r}, {self.resource!r}, context={self.context!r})"
