"""The security groups slpc writes for a network, as plain rules: the one model the
artifacts (targets/security_groups.py), the IaC targets, `slpc diff` and `slpc validate`
read, so they all speak of the same rules.

- The **endpoint group** of a network with interface endpoints and `clients`: ingress on
  TCP 443 only, from each declared client range and security group (and from the network's
  workload group, whose `subnets` declare SageMaker as a client); no egress (an endpoint
  answers on the connections it accepted and opens none).
- The **workload group** of a network with `subnets` (and a `vpc`), which SageMaker jobs and
  endpoints run with: egress on TCP 443 to the endpoint group and, with an S3 gateway
  endpoint, to the region's S3 prefix list; and all traffic to and from the group itself,
  which SageMaker documents that distributed training needs between the containers of
  one job (docs/language.md). Nothing else: no 0.0.0.0/0, no other ingress.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .model import Model, Network

HTTPS = 443
ENDPOINTS, WORKLOAD = "endpoints", "workload"
INGRESS, EGRESS = "ingress", "egress"
ALL = "-1"  # every protocol (its ports are -1, as EC2 reports them)
# What a rule names on its other side.
CIDR, GROUP_ID, OWN_GROUP, PREFIX_LIST = "cidr", "group-id", "own-group", "prefix-list"


@dataclass(frozen=True, order=True)
class Rule:
    direction: str  # INGRESS | EGRESS
    protocol: str  # "tcp" | ALL
    from_port: int
    to_port: int
    peer_kind: str  # CIDR | GROUP_ID | OWN_GROUP (an slpc group, by role) | PREFIX_LIST (by name)
    peer: str

    def covers(self, other: Rule) -> bool:
        """Whether this rule admits all traffic `other` admits."""
        if self.direction != other.direction or self.peer_kind != other.peer_kind:
            return False
        if self.protocol != ALL and (self.protocol != other.protocol or not
                                     self.from_port <= other.from_port <= other.to_port <= self.to_port):
            return False
        if self.peer_kind == CIDR:
            mine, theirs = ipaddress.ip_network(self.peer), ipaddress.ip_network(other.peer)
            return mine.version == theirs.version and theirs.subnet_of(mine)
        return self.peer == other.peer

    def text(self) -> str:
        ports = "all traffic" if self.protocol == ALL else (
            f"{self.protocol} {self.from_port}" if self.from_port == self.to_port
            else f"{self.protocol} {self.from_port}-{self.to_port}")
        side = "from" if self.direction == INGRESS else "to"
        peer = {OWN_GROUP: f"slpc's {self.peer} group", PREFIX_LIST: f"prefix list {self.peer}"}.get(
            self.peer_kind, self.peer)
        return f"{self.direction} {ports} {side} {peer}"


@dataclass(frozen=True)
class SecurityGroup:
    network: str
    role: str  # ENDPOINTS | WORKLOAD
    name: str  # the group name in its VPC (unique there)
    account: str
    region: str
    vpc: str
    rules: tuple[Rule, ...]  # sorted
    attach_to: tuple[str, ...] = ()  # the interface endpoints that should use it (endpoint groups)

    @property
    def description(self) -> str:
        if self.role == ENDPOINTS:
            return f"slpc: who may reach the interface endpoints of network {self.network} (TCP 443 only)"
        return f"slpc: SageMaker jobs and endpoints in network {self.network} (TCP 443 to its endpoints only)"


def group_name(model: Model, network: str, role: str) -> str:
    """`slpc-<deployment>-<network>-<role>`, in the characters EC2 allows in a VPC group name."""
    raw = f"slpc-{model.deployment.name}-{network}-{role}"
    return re.sub(r"[^A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]", "-", raw)[:255]


def s3_prefix_list(region: str) -> str:
    """The name of the AWS-managed prefix list of S3 in a region (its id differs per region)."""
    return f"com.amazonaws.{region}.s3"


def _https(direction: str, kind: str, peer: str) -> Rule:
    return Rule(direction, "tcp", HTTPS, HTTPS, kind, peer)


def client_rule(client: str) -> Rule:
    """The ingress rule that admits one declared client (a range or a group id)."""
    if client.startswith("sg-"):
        return _https(INGRESS, GROUP_ID, client)
    return _https(INGRESS, CIDR, str(ipaddress.ip_network(client)))


def has_endpoint_group(net: Network) -> bool:
    return bool(net.vpc and net.clients and net.interface_endpoints)


def has_workload_group(net: Network) -> bool:
    return bool(net.vpc and net.subnets)


def groups_of(model: Model, net: Network) -> list[SecurityGroup]:
    out = []
    endpoints, workload = has_endpoint_group(net), has_workload_group(net)
    common = dict(account=net.account, region=net.region or model.deployment.regions[0], vpc=net.vpc or "")
    if endpoints:
        rules = {client_rule(c) for c in net.clients}
        if workload:
            rules.add(_https(INGRESS, OWN_GROUP, WORKLOAD))
        out.append(SecurityGroup(net.name, ENDPOINTS, group_name(model, net.name, ENDPOINTS),
                                 rules=tuple(sorted(rules)),
                                 attach_to=tuple(sorted(v for _, v in net.interface_endpoints)), **common))
    if workload:
        rules = {Rule(INGRESS, ALL, -1, -1, OWN_GROUP, WORKLOAD), Rule(EGRESS, ALL, -1, -1, OWN_GROUP, WORKLOAD)}
        if endpoints:
            rules.add(_https(EGRESS, OWN_GROUP, ENDPOINTS))
        if net.gateway_for("s3"):
            rules.add(_https(EGRESS, PREFIX_LIST, s3_prefix_list(common["region"])))
        out.append(SecurityGroup(net.name, WORKLOAD, group_name(model, net.name, WORKLOAD),
                                 rules=tuple(sorted(rules)), **common))
    return out


def security_groups(model: Model) -> list[SecurityGroup]:
    """Every group slpc writes, by network name, then role."""
    return [g for name in sorted(model.networks) for g in groups_of(model, model.networks[name])]
