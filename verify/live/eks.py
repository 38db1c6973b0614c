"""What a deployed trust policy says about EKS workloads, for `slpc import`.

EKS Pod Identity trusts the service `pods.eks.amazonaws.com`; which pods obtain the
role is said by the cluster's pod identity associations, read from EKS. IAM roles
for service accounts (IRSA) trust a cluster's OIDC provider, and the trust itself
says which service accounts: its `ISSUER:sub` condition. Discovery reads the second
from the trust to find the roles, the draft to write their `assumed_by irsa`: one
reading, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

POD_IDENTITY = "pods.eks.amazonaws.com"
OIDC_PROVIDER = ":oidc-provider/"
EKS_ISSUER = re.compile(r"oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/[^/]+")
SUBJECT = re.compile(r"system:serviceaccount:([^:*?]+):([^:*?]+)")


@dataclass(frozen=True)
class ServiceAccount:
    """One subject an IRSA trust statement admits: exact, or in words when it is not."""

    issuer: str  # oidc.eks.REGION.amazonaws.com/id/ID
    region: str
    namespace: str | None  # None: the trust admits a pattern, several, or any subject
    name: str | None
    text: str  # what it admits, for a TODO


def allow_statements(trust: dict | None) -> list[dict]:
    st = (trust or {}).get("Statement") or []
    return [s for s in ([st] if isinstance(st, dict) else st) if isinstance(s, dict) and s.get("Effect") == "Allow"]


def principals(statement: dict) -> Iterable[tuple[str, str]]:
    """(kind, value) of each principal of a statement (`"*"` is ("AWS", "*"))."""
    p = statement.get("Principal")
    for kind, values in p.items() if isinstance(p, dict) else [("AWS", p)]:
        for v in [values] if isinstance(values, str) else values or ():
            yield kind, v


def issuer_of(federated: str) -> str | None:
    """The EKS OIDC issuer of a federated principal (an OIDC provider ARN), else None."""
    issuer = federated.split(OIDC_PROVIDER, 1)[1] if OIDC_PROVIDER in federated else ""
    return issuer if EKS_ISSUER.fullmatch(issuer) else None


def _condition(statement: dict, operator: str, key: str) -> list[str] | None:
    block = (statement.get("Condition") or {}).get(operator) or {}
    for k, v in block.items() if isinstance(block, dict) else ():
        if k.lower() == key.lower():
            return [v] if isinstance(v, str) else [str(x) for x in v]
    return None


def service_accounts(statement: dict) -> list[ServiceAccount]:
    """The service accounts an IRSA statement admits, one per `:sub` value of a
    `StringEquals`; a pattern (`StringLike`) or no `:sub` condition at all is one entry
    without a name, in words."""
    out = []
    for kind, value in principals(statement):
        issuer = issuer_of(value) if kind == "Federated" else None
        if issuer is None:
            continue
        region = EKS_ISSUER.fullmatch(issuer).group(1)
        exact = _condition(statement, "StringEquals", f"{issuer}:sub")
        like = _condition(statement, "StringLike", f"{issuer}:sub")
        if exact and not like:
            for sub in exact:
                m = SUBJECT.fullmatch(sub)
                out.append(ServiceAccount(issuer, region, m.group(1) if m else None, m.group(2) if m else None, sub))
        else:
            out.append(ServiceAccount(issuer, region, None, None,
                                      f"subjects like {', '.join(like)}" if like else "any subject"))
    return out


def trusts_pod_identity(statement: dict) -> bool:
    return ("Service", POD_IDENTITY) in set(principals(statement))

