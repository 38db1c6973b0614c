"""Principal checks: who a statement names, and where naming anyone is wrong."""

from __future__ import annotations

from .registry import ROLE_TRUST, Context, FindingType, check

E, SW, S = FindingType.ERROR, FindingType.SECURITY_WARNING, FindingType.SUGGESTION

PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
# Policies attached to a resource (or standing in for one) must name principals.
_NEEDS_PRINCIPAL = {"resource", "rcp", "vpc-endpoint"}


def _principal_elements(ctx: Context):
    for s in ctx.statements:
        for name in ("Principal", "NotPrincipal"):
            if name in s.body:
                yield s, name, s.get(name)


@check("MISSING_PRINCIPAL", E, "A resource, endpoint or RCP statement without Principal or NotPrincipal.",
       policy_types=_NEEDS_PRINCIPAL)
def missing_principal(ctx: Context):
    for s in ctx.statements:
        if "Principal" not in s.body and "NotPrincipal" not in s.body:
            yield s.path, "Add a Principal element to the statement."


@check("UNSUPPORTED_PRINCIPAL", E, "An identity policy names a principal (the attached identity is the principal).",
       policy_types={"identity"})
def unsupported_principal(ctx: Context):
    for s, name, _ in _principal_elements(ctx):
        yield f"{s.path}.{name}", f"Identity policies do not support the {name} element. Remove it."


@check("ALLOW_WITH_NOT_PRINCIPAL", SW, "Allow with NotPrincipal grants everyone else, anonymous callers included.")
def allow_with_not_principal(ctx: Context):
    for s in ctx.statements:
        if s.get("Effect") == "Allow" and "NotPrincipal" in s.body:
            yield f"{s.path}.NotPrincipal", "Allow with NotPrincipal can be overly permissive. Name principals with Principal."


@check("INVALID_PRINCIPAL_KEY", E, "A Principal kind other than AWS, Service, Federated or CanonicalUser.")
def invalid_principal_key(ctx: Context):
    for s, name, value in _principal_elements(ctx):
        if isinstance(value, dict):
            for kind in value:
                if kind not in PRINCIPAL_KINDS:
                    yield f"{s.path}.{name}.{kind}", f"The principal key {kind} is not valid. Use one of {', '.join(PRINCIPAL_KINDS)}."


@check("EMPTY_OBJECT_PRINCIPAL", S, "Principal is an empty object, so the statement matches no one.")
def empty_object_principal(ctx: Context):
    for s, name, value in _principal_elements(ctx):
        if value == {}:
            yield f"{s.path}.{name}", "This statement names no principals and has no effect. Specify principals."


@check("EMPTY_ARRAY_PRINCIPAL", S, "A Principal kind with an empty list, which names no one.")
def empty_array_principal(ctx: Context):
    for s, name, value in _principal_elements(ctx):
        if isinstance(value, dict):
            for kind, vals in value.items():
                if vals == []:
                    yield f"{s.path}.{name}.{kind}", "This principal list is empty and names no one. Specify principals."


@check("FEDERATED_PRINCIPAL_NOT_SUPPORTED", E, "A Federated principal in a policy other than a role trust policy.",
       policy_types={"resource", "vpc-endpoint"})
def federated_elsewhere(ctx: Context):
    if ctx.resource_type == ROLE_TRUST:  # the one policy that trusts identity providers
        return
    for s in ctx.statements:
        for name in ("Principal", "NotPrincipal"):
            if isinstance(s.get(name), dict) and "Federated" in s.get(name):
                yield f"{s.path}.{name}.Federated", "Only a role trust policy can trust an identity provider. Name an AWS principal."
