"""What the security groups in a build admit, set against what the spec declares (claim 8
of `slpc prove`, docs/prove.md).

The admitted side is read from the security group artifacts alone (their JSON, as compiled,
hand-edited or fetched), with EC2's meaning of each field: a rule admits its protocol (`-1`
every protocol), its port range, from or to its CIDR range, group or prefix list. The
declared side is the spec's: a network's `clients`, `subnets`, interface endpoints and S3
gateway, as docs/language.md ("The security groups slpc writes") states what each group may
admit. Both are compared exactly (ranges by containment of their address sets, never by
text), both ways: nothing admitted beyond the declaration, every declared client admitted.
Each problem names a concrete packet or address that shows it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Sequence

from slpc.compiler import security_groups as G
from slpc.compiler.model import Model, Network

KINDS = {"ec2-endpoint-security-group": G.ENDPOINTS, "ec2-workload-security-group": G.WORKLOAD}
ALL_PORTS = (0, 65535)
# IpProtocol as EC2 takes it: a name or its number; -1 is every protocol.
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": G.ALL}
PEERS = (("CidrIp", G.CIDR), ("CidrIpv6", G.CIDR), ("ReferencedGroupId", G.GROUP_ID),
         ("ReferencedGroupName", G.OWN_GROUP), ("PrefixListName", G.PREFIX_LIST))


@dataclass(frozen=True)
class Admits:
    """One rule: traffic of `protocol` on ports `ports`, from (ingress) or to (egress) `peer`."""

    direction: str
    protocol: str  # "tcp", "udp", ... or G.ALL
    ports: tuple[int, int]
    peer_kind: str  # G.CIDR | G.GROUP_ID | G.OWN_GROUP (a group by name) | G.PREFIX_LIST
    peer: str  # a CIDR in normal form, a group id or name, a prefix list name

    def carries(self, other: Admits) -> bool:
        """Whether every protocol and port of `other` is one of this rule's."""
        return self.protocol == G.ALL or (other.protocol == self.protocol
                                          and self.ports[0] <= other.ports[0] <= other.ports[1] <= self.ports[1])

    def words(self) -> str:
        what = "all traffic" if self.protocol == G.ALL else f"{self.protocol.upper()} " + (
            str(self.ports[0]) if self.ports[0] == self.ports[1] else f"{self.ports[0]}-{self.ports[1]}")
        return f"{what} {'from' if self.direction == G.INGRESS else 'to'} {self.peer}"


@dataclass(frozen=True)
class Group:
    """A group's artifact, read: its path, network, role, name, rules and attachments."""

    path: str
    network: str
    role: str
    name: str
    rules: tuple[Admits, ...]
    attach_to: tuple[str, ...]


def read(path: str, network: str, kind: str, settings: dict) -> tuple[Group | None, list[str]]:
    """A group from its artifact's JSON, and the rules it cannot read (each a problem: an
    unreadable rule may admit anything)."""
    problems, rules = [], []
    for direction, key in ((G.INGRESS, "Ingress"), (G.EGRESS, "Egress")):
        for i, r in enumerate(settings.get(key) or []):
            rule = _rule(direction, r)
            if isinstance(rule, str):
                problems.append(f"{path}: {key}[{i}] {rule}")
            else:
                rules.append(rule)
    attach = settings.get("AttachTo", {}).get("VpcEndpointIds", []) if isinstance(settings.get("AttachTo"), dict) \
        else []
    return Group(path, network, KINDS[kind], str(settings.get("GroupName", "")), tuple(rules),
                 tuple(sorted(attach))), problems


def _rule(direction: str, r) -> Admits | str:
    if not isinstance(r, dict):
        return "is not a rule object"
    proto = str(r.get("IpProtocol", "")).lower()
    proto = PROTOCOLS.get(proto, proto)
    if not proto:
        return "has no IpProtocol"
    ports = ALL_PORTS
    if proto != G.ALL:
        lo, hi = r.get("FromPort", -1), r.get("ToPort", -1)
        if not isinstance(lo, int) or not isinstance(hi, int):
            return "has ports that are not numbers"
        if lo != -1 or hi != -1:  # -1 on both: every port of the protocol
            ports = (lo, hi)
    peers = [(kind, r[key]) for key, kind in PEERS if key in r]
    if len(peers) != 1 or not isinstance(peers[0][1], str):
        return "names no single CIDR, group or prefix list (EC2 would read it otherwise; slpc cannot)"
    kind, peer = peers[0]
    if kind == G.CIDR:
        try:
            peer = str(ipaddress.ip_network(peer, strict=False))
        except ValueError:
            return f"has an unreadable range {peer!r}"
    return Admits(direction, proto, ports, kind, peer)


def declared(model: Model, net: Network) -> dict[str, tuple[tuple[Admits, ...], tuple[str, ...]]]:
    """The groups the spec declares for a network: role -> (what it may admit, the endpoints it is on).
    From the network's attributes and the rules of docs/language.md, not from the builder."""
    out = {}
    has_endpoints = bool(net.vpc and net.clients and net.interface_endpoints)
    has_workload = bool(net.vpc and net.subnets)
    name = {role: G.group_name(model, net.name, role) for role in (G.ENDPOINTS, G.WORKLOAD)}
    https = (G.HTTPS, G.HTTPS)
    if has_endpoints:
        rules = [Admits(G.INGRESS, "tcp", https, G.GROUP_ID if c.startswith("sg-") else G.CIDR,
                        c if c.startswith("sg-") else str(ipaddress.ip_network(c))) for c in net.clients]
        if has_workload:
            rules.append(Admits(G.INGRESS, "tcp", https, G.OWN_GROUP, name[G.WORKLOAD]))
        out[G.ENDPOINTS] = (tuple(rules), tuple(sorted(v for _, v in net.interface_endpoints)))
    if has_workload:
        me = name[G.WORKLOAD]
        rules = [Admits(G.INGRESS, G.ALL, ALL_PORTS, G.OWN_GROUP, me), Admits(G.EGRESS, G.ALL, ALL_PORTS, G.OWN_GROUP, me)]
        if has_endpoints:
            rules.append(Admits(G.EGRESS, "tcp", https, G.OWN_GROUP, name[G.ENDPOINTS]))
        if net.gateway_for("s3"):
            region = net.region or model.deployment.regions[0]
            rules.append(Admits(G.EGRESS, "tcp", https, G.PREFIX_LIST, G.s3_prefix_list(region)))
        out[G.WORKLOAD] = (tuple(rules), ())
    return out


def _outside(net, nets: Sequence) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A part of range `net` that none of `nets` contains, or None (exact: halves the range
    while some range of `nets` lies strictly inside it)."""
    inside = [n for n in nets if n.version == net.version and n.overlaps(net)]
    if any(net.subnet_of(n) for n in inside):
        return None
    if not inside:
        return net
    for half in net.subnets(prefixlen_diff=1):
        part = _outside(half, inside)
        if part is not None:
            return part
    return None


def _gap(rule: Admits, cover: Iterable[Admits]) -> str | None:
    """Traffic that `rule` admits and no rule of `cover` does (words), or None."""
    same = [c for c in cover if c.direction == rule.direction and c.peer_kind == rule.peer_kind]
    carriers = [c for c in same if c.carries(rule)]
    if rule.peer_kind != G.CIDR:
        return None if any(c.peer == rule.peer for c in carriers) else rule.words()
    if not carriers:
        return rule.words()
    net = ipaddress.ip_network(rule.peer)
    part = _outside(net, [ipaddress.ip_network(c.peer) for c in carriers])
    if part is None:
        return None
    return Admits(rule.direction, rule.protocol, rule.ports, G.CIDR, str(part)).words() + f" (e.g. {part[0]})"


def _label(net: str, role: str, path: str | None) -> str:
    return f"{net}: {role} group" + (f" ({path})" if path else "")


def problems(model: Model, groups: Iterable[Group]) -> list[str]:
    """What the built groups admit beyond the spec, or fail to admit of it; [] when exact."""
    built: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        built.setdefault((g.network, g.role), []).append(g)
    out = []
    for net in sorted(model.networks.values(), key=lambda n: n.name):
        for role, (rules, attach) in declared(model, net).items():
            found = built.pop((net.name, role), [])
            where = _label(net.name, role, found[0].path if found else None)
            if len(found) != 1:
                out.append(f"{where}: {'missing' if not found else f'{len(found)} artifacts'}; the spec "
                           f"declares one")
                continue
            g = found[0]
            if g.name != G.group_name(model, net.name, role):
                out.append(f"{where}: named {g.name!r}, not {G.group_name(model, net.name, role)!r}")
            for r in g.rules:
                if r.peer_kind == G.CIDR and ipaddress.ip_network(r.peer).prefixlen == 0:
                    out.append(f"{where}: admits {r.words()}: every address")
                    continue
                gap = _gap(r, rules)
                if gap:
                    out.append(f"{where}: admits {gap}, which the spec does not declare")
            for r in rules:
                gap = _gap(r, g.rules)
                if gap:
                    out.append(f"{where}: does not admit declared {gap}")
            if role == G.ENDPOINTS and g.attach_to != attach:
                out.append(f"{where}: on endpoints {', '.join(g.attach_to) or 'none'}; the network's interface "
                           f"endpoints are {', '.join(attach)}")
    for (network, role), found in sorted(built.items()):
        for g in found:
            out.append(f"{_label(network, role, g.path)}: the spec declares no such group")
    return out
