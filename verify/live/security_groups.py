"""`slpc validate` for the security groups slpc writes: the deployed group (found by its
name in the network's VPC) and its rules against the artifact's rules, read-only
(ec2:DescribeSecurityGroups, ec2:DescribeSecurityGroupRules, ec2:DescribeManagedPrefixLists,
ec2:DescribeVpcEndpoints). A missing rule or an extra one is drift; ingress from
0.0.0.0/0 or ::/0 is reported on its own, whatever the spec says.
"""

from __future__ import annotations

from .fetch import Fetcher
from .findings import DRIFT, MISSING, Finding, Report

ANYWHERE = ("0.0.0.0/0", "::/0")
# CloudFormation's stand-in for "no egress" (targets/cloudformation.py NO_EGRESS): a rule to the
# loopback address, which no packet leaves an interface for. It admits nothing.
LOOPBACK = ("egress", "-1", -1, -1, "CidrIp", "127.0.0.1/32")
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}

Key = tuple[str, str, int, int, str, str]


def _ports(protocol: str, rule: dict) -> tuple[int, int]:
    return (-1, -1) if protocol == "-1" else (rule.get("FromPort", -1), rule.get("ToPort", -1))


def compiled_rules(settings: dict) -> set[Key]:
    """The artifact's rules as (direction, protocol, from, to, peer field, peer)."""
    out = set()
    for direction, field in (("ingress", "Ingress"), ("egress", "Egress")):
        for r in settings[field]:
            peer = next(k for k in ("CidrIp", "CidrIpv6", "ReferencedGroupId", "ReferencedGroupName",
                                    "PrefixListName") if k in r)
            out.add((direction, r["IpProtocol"], *_ports(r["IpProtocol"], r), peer, r[peer]))
    return out


def deployed_rules(rules: list[dict], names: dict[str, str], lists: dict[str, str]) -> set[Key]:
    """DescribeSecurityGroupRules' rules in the same terms: slpc's own groups by name (`names`:
    id -> name), prefix lists by name (`lists`: id -> name)."""
    out = set()
    for r in rules:
        direction = "egress" if r.get("IsEgress") else "ingress"
        protocol = PROTOCOLS.get(str(r.get("IpProtocol")), str(r.get("IpProtocol")))
        ports = _ports(protocol, r)
        if r.get("CidrIpv4"):
            peer = ("CidrIp", r["CidrIpv4"])
        elif r.get("CidrIpv6"):
            peer = ("CidrIpv6", r["CidrIpv6"])
        elif r.get("PrefixListId"):
            pl = r["PrefixListId"]
            peer = ("PrefixListName", lists[pl]) if pl in lists else ("PrefixListId", pl)
        else:
            gid = (r.get("ReferencedGroupInfo") or {}).get("GroupId", "")
            peer = ("ReferencedGroupName", names[gid]) if gid in names else ("ReferencedGroupId", gid)
        key = (direction, protocol, *ports, *peer)
        if key != LOOPBACK:
            out.add(key)
    return out


def _text(k: Key) -> str:
    direction, protocol, lo, hi, _field, peer = k
    ports = "all traffic" if protocol == "-1" else f"{protocol} {lo}" if lo == hi else f"{protocol} {lo}-{hi}"
    return f"{direction} {ports} {'from' if direction == 'ingress' else 'to'} {peer}"


def check(f: Fetcher, art, rep: Report) -> None:
    s = art.settings
    region, name = s["Region"], s["GroupName"]
    wanted_names = {name} | {r["ReferencedGroupName"] for r in s["Ingress"] + s["Egress"] if "ReferencedGroupName" in r}
    groups = f.security_groups(s["VpcId"], sorted(wanted_names), region)
    if groups.problem:
        rep.findings.append(Finding("cannot-verify", art.path, art.target, groups.problem, code="cannot-verify"))
        return
    group = groups.value.get(name)
    if group is None:
        rep.findings.append(Finding(MISSING, art.path, art.target,
                                    f"{art.kind}: no security group named {name} in {s['VpcId']}",
                                    code="missing-resource"))
        return
    rules = f.security_group_rules(group["GroupId"], region)
    lists = f.prefix_lists(region) if any("PrefixListName" in r for r in s["Egress"]) else None
    for read in (rules, lists):
        if read is not None and read.problem:
            rep.findings.append(Finding("cannot-verify", art.path, art.target, read.problem, code="cannot-verify"))
            return
    names = {g["GroupId"]: n for n, g in groups.value.items()}
    have = deployed_rules(rules.value, names, lists.value if lists else {})
    want = compiled_rules(s)
    where = f"{name} ({group['GroupId']})"
    problems = [f"{art.kind}: {where} lacks the rule {_text(k)}" for k in sorted(want - have)]
    problems += [f"{art.kind}: {where} has a rule the spec does not: {_text(k)}" for k in sorted(have - want)]
    for p in problems:
        rep.findings.append(Finding(DRIFT, art.path, art.target, p, code=art.kind))
    for k in sorted(have):
        if k[0] == "ingress" and k[5] in ANYWHERE:
            rep.findings.append(Finding(DRIFT, art.path, art.target,
                                        f"{art.kind}: {where} admits the whole Internet: {_text(k)}",
                                        code="open-ingress"))
    attach = _attachment(f, art, group["GroupId"], region)
    rep.findings += attach
    if not problems and not attach:
        rep.checked.append(art.path)


def _attachment(f: Fetcher, art, group_id: str, region: str) -> list[Finding]:
    """An endpoint group protects only the endpoints that use it, and only if they use no other."""
    out = []
    for vpce in art.settings.get("AttachTo", {}).get("VpcEndpointIds", []):
        read = f.endpoint_groups(vpce, region)
        if read.problem or read.missing:
            out.append(Finding("cannot-verify" if read.problem else MISSING, art.path, art.target,
                               read.problem or f"{art.kind}: {vpce}: {read.missing}", code="endpoint-groups"))
        elif group_id not in read.value:
            out.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: endpoint {vpce} does not use {group_id}",
                               code="endpoint-groups"))
        elif len(read.value) > 1:
            others = ", ".join(g for g in read.value if g != group_id)
            out.append(Finding(DRIFT, art.path, art.target,
                               f"{art.kind}: endpoint {vpce} also uses {others}, whose rules admit more",
                               code="endpoint-groups"))
    return out
