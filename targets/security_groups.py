"""The security group artifacts of each network (`network/<name>/<role>-security-group.json`):
the rules of `slpc.compiler.security_groups` as plain JSON, which the IaC targets and
`slpc validate` read back with `rules_of`. See docs/manifest.md for the shape.
"""

from __future__ import annotations

from slpc.compiler.model import Model
from slpc.compiler.security_groups import (CIDR, ENDPOINTS, GROUP_ID, INGRESS, OWN_GROUP, PREFIX_LIST, Rule,
                                           SecurityGroup, group_name, security_groups)

from .artifact import Artifact

KIND = {ENDPOINTS: "ec2-endpoint-security-group", "workload": "ec2-workload-security-group"}
ROLE = {kind: role for role, kind in KIND.items()}
# How a rule's other side is written in the JSON, by what it names.
PEER_KEYS = {GROUP_ID: "ReferencedGroupId", OWN_GROUP: "ReferencedGroupName", PREFIX_LIST: "PrefixListName"}
USED_BY = ("SageMaker training, processing and tuning jobs, models and endpoint configs in the network's subnets "
           "(their VpcConfig SecurityGroupIds)")


def path(network: str, role: str) -> str:
    return f"network/{network}/{role}-security-group.json"


def _describe(model: Model, g: SecurityGroup, r: Rule) -> str:
    side = "from" if r.direction == INGRESS else "to"
    what = {CIDR: f"client range {r.peer}", GROUP_ID: f"client group {r.peer}",
            OWN_GROUP: f"slpc {r.peer} group", PREFIX_LIST: f"the S3 gateway endpoint ({r.peer})"}[r.peer_kind]
    if r.peer_kind == OWN_GROUP and r.peer == g.role:
        what = "members of this group (distributed training)"
    return f"slpc {g.network}: {side} {what}"


def rule_json(model: Model, g: SecurityGroup, r: Rule) -> dict:
    out: dict = {"IpProtocol": r.protocol, "FromPort": r.from_port, "ToPort": r.to_port}
    if r.peer_kind == CIDR:
        out["CidrIpv6" if ":" in r.peer else "CidrIp"] = r.peer
    elif r.peer_kind == OWN_GROUP:
        out[PEER_KEYS[OWN_GROUP]] = group_name(model, g.network, r.peer)
    else:
        out[PEER_KEYS[r.peer_kind]] = r.peer
    out["Description"] = _describe(model, g, r)
    return out


def document(model: Model, g: SecurityGroup) -> dict:
    doc: dict = {"GroupName": g.name, "Description": g.description, "VpcId": g.vpc, "Region": g.region,
                 "Ingress": [rule_json(model, g, r) for r in g.rules if r.direction == INGRESS],
                 "Egress": [rule_json(model, g, r) for r in g.rules if r.direction != INGRESS]}
    if g.role == ENDPOINTS:
        doc["AttachTo"] = {"VpcEndpointIds": list(g.attach_to)}
    else:
        doc["UsedBy"] = USED_BY
    return doc


def rule_of(model: Model, network: str, direction: str, data: dict) -> Rule:
    """A rule read back from its JSON (the inverse of `rule_json`)."""
    if "CidrIp" in data or "CidrIpv6" in data:
        kind, peer = CIDR, data.get("CidrIp") or data["CidrIpv6"]
    elif PEER_KEYS[OWN_GROUP] in data:
        kind = OWN_GROUP
        peer = next(role for role in KIND if group_name(model, network, role) == data[PEER_KEYS[OWN_GROUP]])
    elif PEER_KEYS[GROUP_ID] in data:
        kind, peer = GROUP_ID, data[PEER_KEYS[GROUP_ID]]
    else:
        kind, peer = PREFIX_LIST, data[PEER_KEYS[PREFIX_LIST]]
    return Rule(direction, data["IpProtocol"], data["FromPort"], data["ToPort"], kind, peer)


def rules_of(model: Model, art: Artifact) -> tuple[Rule, ...]:
    s = art.settings
    return tuple(sorted([rule_of(model, art.name, INGRESS, r) for r in s["Ingress"]]
                        + [rule_of(model, art.name, "egress", r) for r in s["Egress"]]))


def ingress_and_egress(settings: dict) -> list[tuple[str, dict]]:
    """(direction, rule JSON) of a security group artifact, ingress first."""
    return [(INGRESS, r) for r in settings["Ingress"]] + [("egress", r) for r in settings["Egress"]]


def endpoint_region(model: Model, vpce: str) -> str | None:
    """The region of the network an endpoint belongs to (its first, if several)."""
    return next((n.region for n in model.networks.values() if any(v == vpce for _, v in n.endpoints)), None)


def security_group_artifacts(model: Model):
    arts = [Artifact(KIND[g.role], g.vpc, g.account, path(g.network, g.role), g.network, settings=document(model, g))
            for g in security_groups(model)]
    return arts, []

