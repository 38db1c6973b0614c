"""A network's place in the VPC: its region, its endpoints' types, the clients that
may reach its interface endpoints and where its flow logs go (the E44x/W45x checks). Called from `check.py`, whose
checker reports the diagnostics.
"""

from __future__ import annotations

import re
from typing import Sequence

from slpc.dsl import ast

from . import values
from .flow_logs import DEFAULT_RETENTION_DAYS, RETENTION_DAYS
from .model import FlowLogs

GATEWAY, INTERFACE = "gateway", "interface"
ENDPOINT_TYPES = (GATEWAY, INTERFACE)
# Services AWS offers gateway endpoints for (among those slpc knows). S3's default is the
# gateway: it has no hourly charge, and is the endpoint the S3 prefix list routes to.
GATEWAY_SERVICES = ("s3",)
ANYWHERE = ("0.0.0.0/0", "::/0")
# The services (among those slpc knows) for which AWS PrivateLink offers cross-region interface
# endpoints: an endpoint in the VPC's region created for the service of another region (the
# VPC user guide, "Cross-region enabled AWS services": S3, ECR's api and dkr, KMS, and IAM,
# ECS, Lambda, Firehose, Managed Flink and Route 53, which slpc does not use). SageMaker
# runtime, API Gateway (execute-api), STS and CloudWatch Logs are not among them: their
# interface endpoints reach only the VPC's own region.
CROSS_REGION_SERVICES = ("s3", "ecr.api", "ecr.dkr", "kms")


def endpoint_type(c, e: ast.VpcEndpoint) -> str | None:
    """`gateway` or `interface` for one endpoint line, or None after an error."""
    default = GATEWAY if e.service.text in GATEWAY_SERVICES else INTERFACE
    if e.type is None:
        return default
    word = e.type.text
    if word not in ENDPOINT_TYPES:
        c.err("E440", f"unknown endpoint type `{word}`", e.type.span,
              f"write `gateway` or `interface` after the id (the default for {e.service.text} is {default})")
        return None
    if word == GATEWAY and e.service.text not in GATEWAY_SERVICES:
        c.err("E440", f"{e.service.text} has no gateway endpoints", e.type.span,
              f"AWS offers gateway endpoints only for {', '.join(GATEWAY_SERVICES)} here; remove `gateway`")
        return None
    return word


def clients(c, n: ast.Network) -> tuple[str, ...] | None:
    """The network's clients: private ranges (normalised) and security group ids, or None
    after an error."""
    ok = True
    seen: dict[str, ast.Str] = {}
    ranges: list[tuple[object, ast.Str]] = []
    for item in n.clients:
        text = item.value
        if text.startswith("sg-"):
            ok &= c.value(values.security_group(text), item.span, "E442")
        elif text in ANYWHERE or text.endswith("/0"):
            c.err("E443", f'"{text}" admits every address', item.span,
                  "name the private ranges (or security groups) your workloads reach the endpoints from")
            ok = False
            continue
        else:
            net, problem = values.cidr(text, "10.20.0.0/19")
            if problem:
                c.err("E442", problem[0], item.span, problem[1] + ' (or a security group id "sg-...")')
                ok = False
                continue
            if not values.private(net):
                c.err("E444", f'"{text}" is not a private range', item.span,
                      "endpoint clients are inside your VPC: RFC 1918 (10/8, 172.16/12, 192.168/16), "
                      "RFC 6598 (100.64/10) or IPv6 unique local (fc00::/7)")
                ok = False
                continue
            for other, where in ranges:
                if net.version == other.version and net.overlaps(other):
                    c.err("E445", f'"{text}" overlaps "{where.value}" in the same list', item.span,
                          f'"{where.value}" is at line {where.span.line}; keep the wider one, or split the ranges '
                          "so they do not overlap")
                    ok = False
                    break
            else:
                ranges.append((net, item))
            text = str(net)
        if text in seen:
            c.warn("W453", f'"{text}" is listed twice', item.span, "remove one")
        seen.setdefault(text, item)
    return tuple(seen) if ok else None


def groups_of(n: ast.Network) -> list[ast.Str]:
    """Every security group id a network declares (its own and its clients')."""
    return list(n.security_groups) + [x for x in n.clients if x.value.startswith("sg-")]


def foreign_groups(c, decls: Sequence[ast.Network]) -> None:
    """A security group belongs to one VPC: the same id in networks of two VPCs is refused."""
    first: dict[str, tuple[ast.Network, ast.Str]] = {}
    for n in sorted(decls, key=lambda d: (d.span.file, d.span.line)):
        for sg in groups_of(n):
            if sg.value not in first:
                first[sg.value] = (n, sg)
                continue
            other, at = first[sg.value]
            if other is not n and other.vpc and n.vpc and other.vpc.value != n.vpc.value:
                c.err("E446", f'"{sg.value}" is a security group of another VPC', sg.span,
                      f"network `{other.name.text}` (line {at.span.line}) has it in {other.vpc.value}, "
                      f"network `{n.name.text}` is {n.vpc.value}; a group belongs to one VPC")


def placement(c, n: ast.Network, interface: Sequence[str]) -> None:
    """The warnings about what slpc cannot write for a network's security groups."""
    if n.clients and not n.vpc:
        c.err("E447", f"network `{n.name.text}` has `clients` but no `vpc`", n.clients[0].span,
              'the endpoint security group lives in the network\'s VPC: add `vpc "vpc-..."`')
    if interface and not n.clients:
        c.warn("W450", f"network `{n.name.text}` has interface endpoints but no `clients`", n.name.span,
               "slpc writes no endpoint security group for it; add `clients [\"10.0.0.0/16\", ...]` "
               "(private ranges or security groups) to have one that admits only them on 443")
    if n.clients and not interface:
        c.warn("W451", f"network `{n.name.text}` lists `clients` but has no interface endpoint", n.clients[0].span,
               "only interface endpoints have security groups; the clients are not used")
    if n.subnets and not n.vpc:
        c.warn("W452", f"network `{n.name.text}` has `subnets` but no `vpc`", n.subnets[0].span,
               'slpc writes no workload security group for it; add `vpc "vpc-..."`')


def service_region(c, e: ast.VpcEndpoint, kind: str | None, regions: Sequence[str]) -> bool:
    """`region "R"` on an endpoint line: the service region of a cross-region interface endpoint
    (E449 where AWS PrivateLink has none, E309 outside the deployment's regions)."""
    svc, where = e.service.text, e.region.span
    if kind == GATEWAY:
        c.err("E449", f"a gateway endpoint reaches only its VPC's region; `{svc}` cannot have a `region`", where,
              "remove `region`, or make it an interface endpoint (AWS PrivateLink's cross-region endpoints are "
              "interface endpoints)")
        return False
    if svc not in CROSS_REGION_SERVICES:
        c.err("E449", f"AWS PrivateLink has no cross-region endpoints for {svc}", where,
              f"remove `region`: a {svc} endpoint reaches only its VPC's region (cross-region services here: "
              f"{', '.join(CROSS_REGION_SERVICES)})")
        return False
    if e.region.value not in regions:
        c.err("E309", f'endpoint {e.id.value} reaches region "{e.region.value}", which the deployment does not '
              "allow", where, "allowed regions: " + ", ".join(regions))
        return False
    return True


def other_region(c, where, net, asset: str, kind: str, region: str | None, services: Sequence[str]) -> bool:
    """A grant through a network's interface endpoints must have, for each service of the asset,
    an endpoint that reaches the asset's region (E441 covers an S3 gateway). False after E448.

    An interface endpoint serves the service of one region: its VPC's, or for a cross-region
    endpoint (AWS PrivateLink, `CROSS_REGION_SERVICES`) the one declared with `region`. A
    request for an asset of another region cannot come through it."""
    if region is None:
        return True
    reach: dict[str, set] = {}
    for svc, vid in net.interface_endpoints:
        if svc in services:
            reach.setdefault(svc, set()).add(net.service_region(vid))
    missing = sorted(svc for svc, regions in reach.items() if region not in regions)
    if not missing:
        return True
    ids = ", ".join(vid for svc, vid in net.interface_endpoints if svc in missing)
    where_to = ", ".join(sorted({r for svc in missing for r in reach[svc] if r}))
    if all(svc in CROSS_REGION_SERVICES for svc in missing):
        hint = (f"if {ids} {'is a cross-region endpoint' if ', ' not in ids else 'are cross-region endpoints'} "
                f"for {region}, add `region \"{region}\"` to {'its' if ', ' not in ids else 'their'} line; "
                f"otherwise grant from a network with endpoints of {region}")
    else:
        stuck = [svc for svc in missing if svc not in CROSS_REGION_SERVICES]
        hint = (f"{' and '.join(stuck)} interface endpoints reach only their VPC's region (AWS PrivateLink has no "
                f"cross-region endpoints for {'them' if len(stuck) > 1 else 'it'}): grant from a network of {region}")
    c.err("E448", f"{kind} `{asset}` is in {region}, and network `{net.name}` reaches {' and '.join(missing)} "
          f"only through interface endpoints of {where_to}", where, hint)
    return False


LOG_GROUP_NAME = re.compile(r"[A-Za-z0-9._/#-]{1,512}")


def flow_logs(c, d: ast.Deployment, account: str, networks: dict, keys: dict) -> FlowLogs | None:
    """The deployment's flow-log destination (E455, E456), and the networks whose traffic goes
    unrecorded (W457, W458). None when none is declared or it is in error."""
    fl = d.flow_logs
    for n in sorted(networks.values(), key=lambda n: n.name):
        decl = c.decls[n.name]
        if n.vpc and n.account != account:
            c.warn("W458", f"slpc writes no flow log for network `{n.name}` of account {n.account}", decl.name.span,
                   "a flow log and its delivery role live in the VPC's account, and the flow-log key in the "
                   f"deployment's ({account}); create the flow log for {n.vpc} in that account's own IaC "
                   "(docs/language.md#flow-logs)")
        elif n.vpc and fl is None:
            c.warn("W457", f"network `{n.name}` has a `vpc` but no flow log records its traffic", decl.name.span,
                   'declare where flow logs go: `flow_logs "/slpc/NAME/vpc-flow-logs" key KEY` in the deployment')
    if fl is None:
        return None
    ok = True
    name = fl.log_group.value
    if not LOG_GROUP_NAME.fullmatch(name) or name.startswith("aws/"):
        c.err("E455", f'"{name}" is not a log group name slpc can create', fl.log_group.span,
              "1-512 letters, digits and `. _ - / #`, not starting with `aws/` (reserved for AWS), "
              'e.g. "/slpc/acme-llm/vpc-flow-logs"')
        ok = False
    days = DEFAULT_RETENTION_DAYS
    if fl.retention is not None:
        days = fl.retention.amount
        if fl.retention.unit.text != "days" or days not in RETENTION_DAYS:
            nearest = min(RETENTION_DAYS, key=lambda r: (abs(r - days), r))
            c.err("E455", f"`retain {days} {fl.retention.unit.text}` is not a CloudWatch Logs retention period",
                  fl.retention.span, f"CloudWatch Logs keeps log events for one of {', '.join(map(str, RETENTION_DAYS))} "
                                     f"days; did you mean `retain {nearest} days`?")
            ok = False
    if not isinstance(c.decls.get(fl.key.text), ast.Key):
        c.unknown(fl.key, ast.Key, "key", "flow-log key")
        return None
    key = keys.get(fl.key.text)
    if key is None:
        return None  # the key itself is in error, already reported
    for n in sorted(networks.values(), key=lambda n: n.name):
        if n.vpc and n.account == account and n.region != key.region:
            c.err("E456", f"network `{n.name}` is in {n.region}, and flow-log key `{key.name}` in {key.region}",
                  fl.key.span, f"slpc keeps each flow log, its log group and the group's key in one region (it "
                               f"relies on no cross-region delivery or key use); use a key in {n.region}, or "
                               f"declare network `{n.name}` in {key.region}")
            ok = False
    return FlowLogs(name, key.name, days) if ok else None
