"""Conditions shared by every target: networks, time, principals, AWS services.

One place for each condition key slpc relies on, and for the rule of how a set
of networks becomes conditions (see docs/policies.md, "Network perimeter").
"""

from __future__ import annotations

from typing import Iterable

from slpc.compiler.model import Model
from slpc.compiler.verbs import reachable_from_cidrs

from slpc.policy.document import Condition

SOURCE_VPCE = "aws:SourceVpce"
SOURCE_IP = "aws:SourceIp"
CURRENT_TIME = "aws:CurrentTime"
PRINCIPAL_ARN = "aws:PrincipalArn"
SECURE_TRANSPORT = "aws:SecureTransport"
PRINCIPAL_IS_SERVICE = "aws:PrincipalIsAWSService"
VIA_SERVICE = "aws:ViaAWSService"


def endpoints_and_cidrs(model: Model, networks: Iterable[str], services: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The VPC endpoint ids (for these services) and public CIDRs of the networks."""
    vpces: set[str] = set()
    cidrs: set[str] = set()
    for name in networks:
        net = model.networks[name]
        vpces.update(net.endpoint_ids(services))
        if reachable_from_cidrs(services):
            cidrs.update(net.cidrs)
    return tuple(sorted(vpces)), tuple(sorted(cidrs))


def inside(model: Model, networks: Iterable[str], services: tuple[str, ...]) -> list[tuple[str, tuple[Condition, ...]]]:
    """Allow-side: one (label, conditions) per way in; each becomes its own statement,
    because IAM can only AND different keys within a statement."""
    vpces, cidrs = endpoints_and_cidrs(model, networks, services)
    out = []
    if vpces:
        out.append(("ViaEndpoint", (Condition("StringEquals", SOURCE_VPCE, vpces),)))
    if cidrs:
        out.append(("FromCidr", (Condition("IpAddress", SOURCE_IP, cidrs),)))
    return out


def outside(model: Model, networks: Iterable[str], services: tuple[str, ...]) -> tuple[Condition, ...]:
    """Deny-side: true exactly when the request is in none of the networks.

    The IfExists forms make a missing key count as "not ours": a request from the
    Internet has no aws:SourceVpce, one through an endpoint has no aws:SourceIp.
    With neither endpoints nor CIDRs, the empty tuple denies unconditionally.
    """
    vpces, cidrs = endpoints_and_cidrs(model, networks, services)
    conds = []
    if vpces:
        conds.append(Condition("StringNotEqualsIfExists", SOURCE_VPCE, vpces))
    if cidrs:
        conds.append(Condition("NotIpAddressIfExists", SOURCE_IP, cidrs))
    return tuple(conds)


# AWS services acting on your behalf (S3 replication, CloudTrail...) are not
# network clients; the standard data-perimeter exemption.
NOT_AWS_SERVICE = (
    Condition("BoolIfExists", PRINCIPAL_IS_SERVICE, ("false",)),
    Condition("BoolIfExists", VIA_SERVICE, ("false",)),
)


def before(until: str | None) -> tuple[Condition, ...]:
    return (Condition("DateLessThan", CURRENT_TIME, (until,)),) if until else ()


def at_or_after(until: str) -> tuple[Condition, ...]:
    return (Condition("DateGreaterThanEquals", CURRENT_TIME, (until,)),)


def principal_is(arns: Iterable[str]) -> Condition:
    return Condition("ArnEquals", PRINCIPAL_ARN, tuple(sorted(set(arns))))


def principal_is_not(arns: Iterable[str]) -> tuple[Condition, ...]:
    """Deny-side: every principal but these. With none, the deny covers everyone."""
    arns = tuple(sorted(set(arns)))
    return (Condition("ArnNotEquals", PRINCIPAL_ARN, arns),) if arns else ()
