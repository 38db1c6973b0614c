"""Networks as first-class: region, gateway or interface endpoints, clients, and the security
groups slpc writes for them (compiler/networks.py, compiler/security_groups.py,
targets/security_groups.py). One bad input per code, with location and caret; properties
that the emitted rules admit exactly the declared sources; the IaC targets carry the
artifact's rules and nothing else."""

from __future__ import annotations

import ipaddress
import json
import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_text
from slpc.policy.kinds import SECURITY_GROUP_KINDS
from slpc.compiler.security_groups import EGRESS, GROUP_ID, HTTPS, INGRESS, OWN_GROUP, WORKLOAD
from slpc.targets.iac import render
from slpc.targets.security_groups import rules_of
from conftest import EXAMPLE
from test_diagnostics import caret_under, located, run

EX = EXAMPLE.read_text()
# each example compiles the whole example spec and renders its templates
EXAMPLES = int(os.environ.get("SLPC_PROPERTY_EXAMPLES", "30"))
CLIENTS = '  clients ["10.20.0.0/19", "10.20.32.0/19", "sg-0123456789abcdef0"]\n'
S3_LINE = '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" gateway\n'


def clients(*items: str) -> str:
    return EX.replace(CLIENTS, "  clients [" + ", ".join(f'"{i}"' for i in items) + "]\n")


def two_regions(text: str) -> str:
    """The example in two regions, every regional declaration placed (eval_vpc in eu-west-1)."""
    return text.replace('regions   ["eu-central-1"]', 'regions   ["eu-central-1", "eu-west-1"]').replace(
        '  name   "llm-serving"\n', '  name   "llm-serving"\n  region "eu-central-1"\n').replace(
        '  sagemaker "llm-chat-prod"\n', '  sagemaker "llm-chat-prod"\n  region "eu-central-1"\n').replace(
        '  vpc "vpc-0f9e8d7c6b5a43210"\n', '  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-west-1"\n')


# the example's key (and so its buckets) in eu-west-1; without flow logs, whose key must share
# the region of the networks they record (E456)
WEST_KEY = EX.replace("arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666",
                      "arn:aws:kms:eu-west-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666").replace(
    '  flow_logs "/slpc/acme-llm/vpc-flow-logs" key model_key retain 365 days\n', "")

# (code, spec, text under the caret, words in the message or hint)
CASES = [
    ("E440", EX.replace('"vpce-01a2b3c4d5e6f7a80" gateway', '"vpce-01a2b3c4d5e6f7a80" gatway'), "gatway",
     "`gateway` or `interface`"),
    ("E440", EX.replace('"vpce-01a2b3c4d5e6f7a83"', '"vpce-01a2b3c4d5e6f7a83" gateway'), ("a83", "gateway"),
     "kms has no gateway endpoints"),
    ("E441", two_regions(WEST_KEY), "prod_vpc", "gateway endpoint reaches only"),
    ("E448", two_regions(EX).replace('  sagemaker "llm-chat-prod"\n  region "eu-central-1"\n',
                                     '  sagemaker "llm-chat-prod"\n  region "eu-west-1"\n'), ("chat_frontend", "prod_vpc"),
     "sagemaker.runtime interface endpoints reach only their VPC's region"),
    ("E442", clients("10.20.0.0/19", "vpc-123"), '"vpc-123"', "not a CIDR range"),
    ("E442", clients("10.20.0.1/19"), '"10.20.0.1/19"', 'did you mean "10.20.0.0/19"'),
    ("E442", clients("sg-12"), '"sg-12"', "security group id"),
    ("E443", clients("0.0.0.0/0"), '"0.0.0.0/0"', "admits every address"),
    ("E443", clients("::/0"), '"::/0"', "admits every address"),
    ("E444", clients("198.51.100.0/24"), '"198.51.100.0/24"', "not a private range"),
    ("E444", clients("10.0.0.0/7"), '"10.0.0.0/7"', "not a private range"),
    ("E444", clients("2001:db8::/32"), '"2001:db8::/32"', "fc00::/7"),
    ("E445", clients("10.20.0.0/16", "10.20.32.0/19"), '"10.20.32.0/19"', 'overlaps "10.20.0.0/16"'),
    ("E446", EX.replace('  clients ["10.40.0.0/16"]\n', '  clients ["10.40.0.0/16", "sg-0123456789abcdef0"]\n'),
     '"sg-0123456789abcdef0"', "a security group of another VPC"),
    ("E447", EX.replace('  vpc "vpc-0f9e8d7c6b5a43210"\n', ""), '"10.40.0.0/16"', "add `vpc"),
    ("E312", two_regions(EX).replace('  region "eu-central-1"\n  endpoint', "  endpoint"), "prod_vpc",
     "needs a `region`"),
    ("E309", EX.replace('  region "eu-central-1"\n', '  region "eu-west-1"\n'), '"eu-west-1"', "allowed regions"),
]


def _line_of(text: str, under: str, code: str, marker: str | None = None) -> int:
    """The line the diagnostic points at: the first line holding `under` (and `marker`)."""
    lines = text.splitlines()
    if marker:
        return next(i for i, ln in enumerate(lines, 1) if marker in ln and under in ln)
    if code in ("E441", "E448"):
        return next(i for i, ln in enumerate(lines, 1) if ln.startswith("allow") and under in ln)
    if code == "E312":
        return next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"network {under}"))
    if code == "E446":
        return max(i for i, ln in enumerate(lines, 1) if under in ln)
    return next(i for i, ln in enumerate(lines, 1) if under in ln)


@pytest.mark.parametrize("code,text,under,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_network_input_is_diagnosed(tmp_path, capsys, code, text, under, words):
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2, err
    assert f"error[{code}]" in err, err
    marker, under = under if isinstance(under, tuple) else (None, under)
    line = _line_of(text, under, code, marker)
    col = text.splitlines()[line - 1].index(under) + 1
    assert located(err, path, line, col), err
    assert caret_under(err, under), err
    assert words in err, err


WARNINGS = [
    ("W450", EX.replace('  clients ["10.40.0.0/16"]\n', ""), "eval_vpc", "no endpoint security group"),
    ("W451", EX.replace('  endpoint kms "vpce-0f9e8d7c6b5a43212"\n', "").replace(
        '  endpoint s3  "vpce-0f9e8d7c6b5a43211"', '  endpoint s3  "vpce-0f9e8d7c6b5a43211"'), '"10.40.0.0/16"',
     "no interface endpoint"),
    ("W452", EX.replace('  vpc "vpc-0a1b2c3d4e5f67890"\n', "").replace(CLIENTS, ""),
     '"subnet-0a1b2c3d4e5f67890"', "no workload security group"),
    ("W453", clients("10.20.0.0/19", "sg-0123456789abcdef0", "sg-0123456789abcdef0"), '"sg-0123456789abcdef0"',
     "listed twice"),
]


@pytest.mark.parametrize("code,text,under,words", WARNINGS, ids=[w[0] for w in WARNINGS])
def test_network_warnings(tmp_path, capsys, code, text, under, words):
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 0, err
    assert f"warning[{code}]" in err and words in err, err
    assert caret_under(err, under), err


def test_the_example_declares_its_networks_cleanly(tmp_path, capsys):
    """Its one warning: the evaluation account's VPC gets no flow log from slpc (W458)."""
    rc, err, _, _ = run(tmp_path, capsys, EX)
    assert rc == 0 and err.count("warning[") == 1 and "warning[W458]" in err and "`eval_vpc`" in err, err


def test_s3_defaults_to_gateway_and_other_services_to_interface():
    c = compile_text(EX.replace(S3_LINE, '  endpoint s3                "vpce-01a2b3c4d5e6f7a80"\n'), "x.slp")
    net = c.model.networks["prod_vpc"]
    assert net.gateways == ("vpce-01a2b3c4d5e6f7a80",) and net.gateway_for("s3")
    assert {v for _, v in net.interface_endpoints} == {f"vpce-01a2b3c4d5e6f7a8{i}" for i in range(1, 5)}
    c = compile_text(EX.replace(S3_LINE, '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface\n'), "x.slp")
    assert c.model.networks["prod_vpc"].gateways == ()


def test_a_gateway_in_the_buckets_region_or_an_interface_endpoint_is_accepted():
    text = two_regions(WEST_KEY)
    assert not compile_text(text, "x.slp").ok  # E441 (above)
    west = text.replace('  region "eu-central-1"\n  endpoint s3', '  region "eu-west-1"\n  endpoint s3')
    assert "E441" not in {d.code for d in compile_text(west, "x.slp").diagnostics}
    # an interface endpoint is not refused by E441
    c = compile_text(text.replace(S3_LINE, '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface\n'),
                     "x.slp")
    assert "E441" not in {d.code for d in c.diagnostics}


# --------------------------------------------------------------------------- #
# The artifacts


def _example():
    c = compile_text(EX, "example.slp")
    assert c.ok
    return c


def _groups(c):
    return {a.path: a for a in c.artifacts if a.kind in SECURITY_GROUP_KINDS}


def test_the_examples_groups():
    c = _example()
    groups = _groups(c)
    assert sorted(groups) == ["network/eval_vpc/endpoints-security-group.json",
                              "network/prod_vpc/endpoints-security-group.json",
                              "network/prod_vpc/workload-security-group.json"]
    ep = groups["network/prod_vpc/endpoints-security-group.json"].settings
    assert ep["Egress"] == [] and ep["VpcId"] == "vpc-0a1b2c3d4e5f67890" and ep["Region"] == "eu-central-1"
    assert ep["AttachTo"] == {"VpcEndpointIds": [f"vpce-01a2b3c4d5e6f7a8{i}" for i in range(1, 5)]}
    assert all((r["IpProtocol"], r["FromPort"], r["ToPort"]) == ("tcp", 443, 443) for r in ep["Ingress"])
    wl = groups["network/prod_vpc/workload-security-group.json"].settings
    assert [r for r in wl["Ingress"] if r.get("ReferencedGroupName") != wl["GroupName"]] == []
    for r in wl["Egress"]:
        assert r.get("CidrIp") is None and r.get("CidrIpv6") is None  # never 0.0.0.0/0, never any range
        assert r["IpProtocol"] == "-1" and r["ReferencedGroupName"] == wl["GroupName"] or \
            (r["IpProtocol"], r["FromPort"]) == ("tcp", 443)
    assert {r.get("PrefixListName") for r in wl["Egress"]} >= {"com.amazonaws.eu-central-1.s3"}
    # the eval account's group is in its account
    assert groups["network/eval_vpc/endpoints-security-group.json"].account == "444455556666"


def test_deterministic():
    assert [a.text for a in _example().artifacts] == [a.text for a in _example().artifacts]


private = st.one_of(
    st.builds(lambda a, b, n: f"10.{a}.{b}.0/{n}", st.integers(0, 255), st.integers(0, 255), st.just(24)),
    st.builds(lambda a, n: f"172.{16 + a}.0.0/{n}", st.integers(0, 15), st.sampled_from((16, 20))),
    st.builds(lambda a: f"192.168.{a}.0/24", st.integers(0, 255)),
    st.builds(lambda a: f"100.{64 + a}.0.0/16", st.integers(0, 63)),
    st.builds(lambda a: f"fd00:{a:x}::/48", st.integers(0, 0xffff)))
groups = st.builds(lambda h: f"sg-{h:017x}", st.integers(0, 16 ** 17 - 1))


def _disjoint(items: list[str]) -> list[str]:
    out: list = []
    for x in items:
        if x.startswith("sg-"):
            out.append(x)
            continue
        net = ipaddress.ip_network(x)
        if all(y.startswith("sg-") or not net.overlaps(ipaddress.ip_network(y)) for y in out):
            out.append(x)
    return list(dict.fromkeys(out))


@pytest.mark.property
@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(private, groups), min_size=1, max_size=8), st.booleans())
def test_the_endpoint_group_admits_exactly_the_declared_clients_on_443(items, subnets):
    """Every ingress rule's source is a declared client (or, with `subnets`, the network's own
    workload group) on TCP 443; every declared client is admitted; nothing leaves the group."""
    declared = _disjoint(items)
    text = EX.replace(CLIENTS, "  clients [" + ", ".join(f'"{x}"' for x in declared) + "]\n")
    if not subnets:
        text = text.replace('  subnets ["subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891"]\n', "")
    c = compile_text(text, "x.slp")
    assert c.ok, [d.message for d in c.diagnostics]
    art = _groups(c)["network/prod_vpc/endpoints-security-group.json"]
    rules = rules_of(c.model, art)
    sources = set()
    for r in rules:
        assert r.direction == INGRESS  # no egress at all
        assert (r.protocol, r.from_port, r.to_port) == ("tcp", HTTPS, HTTPS)
        sources.add(WORKLOAD if r.peer_kind == OWN_GROUP else r.peer)
        if r.peer_kind == OWN_GROUP:
            assert r.peer == WORKLOAD and subnets
    assert sources == {str(ipaddress.ip_network(x)) if not x.startswith("sg-") else x for x in declared} \
        | ({WORKLOAD} if subnets else set())
    # the Terraform and CloudFormation rules are these rules
    assert _iac_rules(c, "prod_vpc", "Endpoints") == {(r.direction, r.peer_kind, r.peer) for r in rules}


def _iac_rules(c, network: str, role: str) -> set[tuple[str, str, str]]:
    """(direction, peer kind, peer) of the CloudFormation rule resources of one group."""
    out = set()
    for path, text in render("cloudformation", c.model, c.artifacts).items():
        doc = yaml.safe_load(text.split("\n", 1)[1])
        gid = f"{''.join(w.capitalize() for w in network.split('_'))}{role}SecurityGroup"
        for res in doc["Resources"].values():
            p = res["Properties"]
            if res["Type"] not in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress") \
                    or p["GroupId"] != {"Ref": gid}:
                continue
            direction = INGRESS if res["Type"].endswith("Ingress") else EGRESS
            peer = p.get("CidrIp") or p.get("CidrIpv6") or p.get("SourceSecurityGroupId") \
                or p.get("DestinationSecurityGroupId") or p.get("DestinationPrefixListId")
            if isinstance(peer, dict) and "Fn::GetAtt" in peer:
                out.add((direction, OWN_GROUP, peer["Fn::GetAtt"][0].removeprefix(
                    gid.removesuffix(role + "SecurityGroup")).removesuffix("SecurityGroup").lower()))
            elif isinstance(peer, str) and peer.startswith("sg-"):
                out.add((direction, GROUP_ID, peer))
            else:
                out.add((direction, "cidr" if isinstance(peer, str) else "prefix-list", peer))
    return out


def test_cloudformation_removes_the_default_egress_and_terraform_manages_no_inline_rules():
    c = _example()
    files = render("cloudformation", c.model, c.artifacts)
    doc = yaml.safe_load(files["cloudformation/111122223333.yaml"].split("\n", 1)[1])
    sgs = {k: v for k, v in doc["Resources"].items() if v["Type"] == "AWS::EC2::SecurityGroup"}
    assert sorted(sgs) == ["ProdVpcEndpointsSecurityGroup", "ProdVpcWorkloadSecurityGroup"]
    for sg in sgs.values():
        assert sg["Properties"]["SecurityGroupEgress"] == [{
            "IpProtocol": "-1", "CidrIp": "127.0.0.1/32",
            "Description": "slpc: no egress (replaces the default allow-all rule)"}]
        assert "SecurityGroupIngress" not in sg["Properties"]
    assert sgs["ProdVpcEndpointsSecurityGroup"]["Metadata"]["slpc"]["attach_to"] == [
        f"vpce-01a2b3c4d5e6f7a8{i}" for i in range(1, 5)]
    tf = render("terraform", c.model, c.artifacts)["terraform/network.tf"]
    assert "ingress {" not in tf and "egress {" not in tf and "0.0.0.0/0" not in tf and "::/0" not in tf
    assert tf.count('resource "aws_vpc_endpoint_security_group_association"') == 5  # 4 in prod, 1 in eval
    assert tf.count('resource "aws_vpc_security_group_ingress_rule"') == 4 + 1 + 1
    assert tf.count('resource "aws_vpc_security_group_egress_rule"') == 3
    assert 'data "aws_ec2_managed_prefix_list"' in tf and '"com.amazonaws.eu-central-1.s3"' in tf


def test_the_manifest_lists_the_groups(tmp_path):
    from slpc.app.cli import main
    assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "b")]) == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    sg = [a for a in m["artifacts"] if a["kind"] in SECURITY_GROUP_KINDS]
    assert {(a["kind"], a["name"], a["target"]) for a in sg} == {
        ("ec2-endpoint-security-group", "prod_vpc", "vpc-0a1b2c3d4e5f67890"),
        ("ec2-workload-security-group", "prod_vpc", "vpc-0a1b2c3d4e5f67890"),
        ("ec2-endpoint-security-group", "eval_vpc", "vpc-0f9e8d7c6b5a43210")}


# --------------------------------------------------------------------------- #
# slpc diff


def _diff(old: str, new: str):
    from slpc.compiler.diff import diff_models
    a, b = compile_text(old, "old.slp", emit=False), compile_text(new, "new.slp", emit=False)
    assert a.ok and b.ok
    return [c for c in diff_models(a.model, b.model) if c.kind.startswith("network-security-group")]


def _effects(changes) -> set[tuple[str, str]]:
    return {(c.effect, c.new or c.old or "") for c in changes}


def test_a_broader_range_widens_and_the_ranges_it_covers_are_neutral():
    wide = clients("10.20.0.0/16", "sg-0123456789abcdef0")
    assert _effects(_diff(EX, wide)) == {("widens", "ingress tcp 443 from 10.20.0.0/16"),
                                         ("neutral", "ingress tcp 443 from 10.20.0.0/19"),
                                         ("neutral", "ingress tcp 443 from 10.20.32.0/19")}
    # and back: the same changes, mirrored
    assert _effects(_diff(wide, EX)) == {("narrows", "ingress tcp 443 from 10.20.0.0/16"),
                                         ("neutral", "ingress tcp 443 from 10.20.0.0/19"),
                                         ("neutral", "ingress tcp 443 from 10.20.32.0/19")}


def test_a_new_source_widens_a_removed_one_narrows():
    more = clients("10.20.0.0/19", "10.20.32.0/19", "sg-0123456789abcdef0", "sg-0123456789abcdef1")
    (c,) = _diff(EX, more)
    assert (c.effect, c.kind, c.network) == ("widens", "network-security-group-rule-added", "prod_vpc")
    assert "sg-0123456789abcdef1" in c.description
    (c,) = _diff(more, EX)
    assert c.effect == "narrows"


def test_a_new_port_widens():
    """A rule on another port (the model's rules compared directly) widens; the same port does not."""
    from slpc.compiler.security_groups import Rule
    old = Rule("ingress", "tcp", 443, 443, "cidr", "10.20.0.0/19")
    assert not old.covers(Rule("ingress", "tcp", 8443, 8443, "cidr", "10.20.0.0/19"))
    assert not old.covers(Rule("ingress", "-1", -1, -1, "cidr", "10.20.0.0/19"))
    assert Rule("ingress", "-1", -1, -1, "cidr", "10.0.0.0/8").covers(old)
    assert not old.covers(Rule("egress", "tcp", 443, 443, "cidr", "10.20.0.0/19"))


def test_an_s3_gateway_gives_the_workload_group_the_prefix_list():
    interface = EX.replace(S3_LINE, '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface\n')
    changes = _diff(interface, EX)
    assert ("widens", "egress tcp 443 to prefix list com.amazonaws.eu-central-1.s3") in _effects(changes)


def test_a_group_slpc_stops_writing_widens():
    (c,) = _diff(EX, EX.replace('  clients ["10.40.0.0/16"]\n', ""))
    assert (c.kind, c.effect, c.network) == ("network-security-group-dropped", "widens", "eval_vpc")


def test_unchanged_groups_have_no_changes():
    assert _diff(EX, EX) == []


def test_terraform_rules_are_the_artifacts_rules():
    """Parsed back with python-hcl2: each group's rule resources carry exactly the artifact's rules
    (protocol, ports, one peer), and refer to their group."""
    import hcl2
    from test_terraform import literal, resources

    c = _example()
    files = render("terraform", c.model, c.artifacts)
    res = resources({"network.tf": hcl2.loads(files["terraform/network.tf"])})
    names = {a.settings["GroupName"]: a for a in _groups(c).values()}
    group_res = {literal(b["name"]): n for (t, n), b in res.items() if t == "aws_security_group"}
    assert set(group_res) == set(names)
    for gname, art in names.items():
        want = set()
        for direction, field in (("ingress", "Ingress"), ("egress", "Egress")):
            for r in art.settings[field]:
                peer = r.get("CidrIp") or r.get("CidrIpv6") or r.get("ReferencedGroupId") or r.get("PrefixListName") \
                    or f"aws_security_group.{group_res[r['ReferencedGroupName']]}.id"
                ports = None if r["IpProtocol"] == "-1" else (r["FromPort"], r["ToPort"])
                want.add((direction, r["IpProtocol"], ports, peer, r["Description"]))
        have = set()
        for (t, n), b in res.items():
            if not t.startswith("aws_vpc_security_group_") or b["security_group_id"] != \
                    f"${{aws_security_group.{group_res[gname]}.id}}":
                continue
            peers = [b[k] for k in ("cidr_ipv4", "cidr_ipv6", "referenced_security_group_id", "prefix_list_id")
                     if k in b]
            assert len(peers) == 1, b
            peer = literal(peers[0]) if peers[0].startswith('"') else peers[0][2:-1]
            if peer.startswith("data.aws_ec2_managed_prefix_list."):
                peer = "com.amazonaws.eu-central-1.s3"
            ports = (b["from_port"], b["to_port"]) if "from_port" in b else None
            have.add(("ingress" if t.endswith("ingress_rule") else "egress", literal(b["ip_protocol"]), ports, peer,
                      literal(b["description"])))
        assert have == want, gname


def test_the_emitted_resources_are_the_settings_tables_types():
    import re
    from slpc.policy.kinds import SETTINGS_KINDS

    c = _example()
    tf = render("terraform", c.model, c.artifacts)["terraform/network.tf"]
    groups = [k for k in SETTINGS_KINDS.values() if k.name in SECURITY_GROUP_KINDS]
    assert set(re.findall(r'^resource "(\w+)"', tf, re.M)) == {t for k in groups for t in k.terraform}
    doc = yaml.safe_load(render("cloudformation", c.model, c.artifacts)["cloudformation/111122223333.yaml"]
                         .split("\n", 1)[1])
    types = {r["Type"] for r in doc["Resources"].values() if r["Type"].startswith("AWS::EC2::SecurityGroup")}
    assert types == {t for k in groups for t in k.cloudformation}


def test_fmt_keeps_regions_endpoint_types_and_clients():
    from slpc.dsl import ast, format_spec, parse

    text = ('deployment "d" {\n  account "111122223333"\n  regions ["eu-central-1"]\n}\n\n'
            'network n {\n  clients ["10.0.0.0/16", "sg-0123456789abcdef0"]\n  vpc "vpc-0a1b2c3d4e5f67890"\n'
            '  endpoint s3 "vpce-01a2b3c4d5e6f7a80" interface\n  region "eu-central-1"\n'
            '  endpoint kms "vpce-01a2b3c4d5e6f7a81"\n'
            '  endpoint ecr.api "vpce-01a2b3c4d5e6f7a82" region "eu-west-1"\n'
            '  endpoint ecr.dkr "vpce-01a2b3c4d5e6f7a83" interface region "eu-west-1"\n}\n')
    r = parse(text, "n.slp")
    assert not r.diagnostics
    out = format_spec(r.spec)
    assert 'endpoint s3      "vpce-01a2b3c4d5e6f7a80" interface\n' in out
    assert 'region "eu-central-1"\n' in out and 'clients ["10.0.0.0/16", "sg-0123456789abcdef0"]\n' in out
    again = parse(out, "n.slp").spec
    (net,) = [d for d in again.declarations if isinstance(d, ast.Network)]
    assert net.endpoints[0].type.text == "interface" and net.endpoints[1].type is None
    assert 'endpoint ecr.api "vpce-01a2b3c4d5e6f7a82" region "eu-west-1"\n' in out
    assert 'endpoint ecr.dkr "vpce-01a2b3c4d5e6f7a83" interface region "eu-west-1"\n' in out
    assert [e.region.value if e.region else None for e in net.endpoints] == [None, None, "eu-west-1", "eu-west-1"]
    assert [c.value for c in net.clients] == ["10.0.0.0/16", "sg-0123456789abcdef0"]
    assert format_spec(again) == out


def test_terraform_outputs_every_group_id_by_name():
    import hcl2

    c = _example()
    out = hcl2.loads(render("terraform", c.model, c.artifacts)["terraform/outputs.tf"])
    (ids,) = [o['"security_group_ids"'] for o in out["output"] if '"security_group_ids"' in o]
    value = {k.strip('"'): v for k, v in ids["value"].items()}
    assert set(value) == {a.settings["GroupName"] for a in _groups(c).values()}
    assert value["slpc-acme-llm-prod_vpc-workload"] == "${aws_security_group.prod_vpc_workload.id}"
    assert "security_groups" in ids["description"]


NO_GROUPS = EX.replace('  security_groups ["sg-0a1b2c3d4e5f67890"]\n', "")


@pytest.mark.parametrize("text, words", [
    (NO_GROUPS, "no network declares any, so the SCP does not pin SageMaker's security groups at all"),
    (NO_GROUPS.replace('  clients ["10.40.0.0/16"]\n', '  clients ["10.40.0.0/16"]\n  security_groups ["sg-0f9e8d7c6b5a43219"]\n'),
     "the SCP refuses SageMaker runs with its workload group slpc-acme-llm-prod_vpc-workload until its id is declared"),
], ids=["unpinned", "refused"])
def test_w536_a_workload_group_the_scp_does_not_know(tmp_path, capsys, text, words):
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 0, err
    assert "warning[W536]: network `prod_vpc` has `subnets` but no `security_groups`" in err and words in err, err
    assert "Terraform output `security_group_ids`" in err and "`ProdVpcWorkloadSecurityGroupId`" in err


def test_w536_not_without_a_scp_or_with_declared_groups(tmp_path, capsys):
    rc, err, _, _ = run(tmp_path, capsys, EX)
    assert rc == 0 and "W536" not in err
    no_scp = NO_GROUPS.replace('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  guardrails [rcp]\n')
    rc, err, _, _ = run(tmp_path, capsys, no_scp)
    assert "W536" not in err, err


WEST_INTERFACE = two_regions(WEST_KEY).replace(S3_LINE, '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface\n')
# the same, eval_vpc in eu-central-1 too (it reads `weights` through its gateway)
WEST_INTERFACE = WEST_INTERFACE.replace('  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-west-1"\n',
                                        '  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-central-1"\n')


def test_e448_a_bucket_of_another_region_through_an_s3_interface_endpoint_of_the_network_s(tmp_path, capsys):
    """The endpoint serves eu-central-1's S3: the request for a bucket of eu-west-1 cannot come through it;
    the hint says how to declare it if it is a cross-region endpoint."""
    text = WEST_INTERFACE.replace("allow evaluator     read   weights \"released/\"    from eval_vpc",
                                  "allow evaluator     read   weights \"released/\"    from prod_vpc")
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2, err
    assert "error[E448]: bucket `weights` is in eu-west-1, and network `prod_vpc` reaches s3 only through " \
           "interface endpoints of eu-central-1" in err, err
    assert 'if vpce-01a2b3c4d5e6f7a80 is a cross-region endpoint for eu-west-1, add `region "eu-west-1"`' in err
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("allow trainer") and "weights" in ln)
    assert located(err, path, line, text.splitlines()[line - 1].index("prod_vpc") + 1), err


def test_a_cross_region_endpoint_reaches_its_region_and_only_it(tmp_path, capsys):
    cross = '  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface region "eu-west-1"\n'
    text = WEST_INTERFACE.replace('  endpoint s3                "vpce-01a2b3c4d5e6f7a80" interface\n', cross).replace(
        "allow evaluator     read   weights \"released/\"    from eval_vpc",
        "allow evaluator     read   weights \"released/\"    from prod_vpc")
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 0 and "E448" not in err, err
    c = compile_text(text, "x.slp")
    assert c.model.networks["prod_vpc"].service_region("vpce-01a2b3c4d5e6f7a80") == "eu-west-1"
    assert c.model.networks["prod_vpc"].service_region("vpce-01a2b3c4d5e6f7a81") == "eu-central-1"
    # ... and only it: the same endpoint cannot serve a bucket of the network's own region
    same = two_regions(EX).replace(S3_LINE, cross).replace('  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-west-1"\n',
                                                           '  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-central-1"\n')
    rc, err, _, _ = run(tmp_path, capsys, same)
    assert rc == 2 and "error[E448]: bucket `finetune_data` is in eu-central-1, and network `prod_vpc` reaches s3 " \
        "only through interface endpoints of eu-west-1" in err, err
    # CloudFormation creates it for its service region
    owned = yaml.safe_load(render("cloudformation", c.model, c.artifacts)[
        "cloudformation/111122223333-owned-resources.yaml"].split("\n", 1)[1])
    props = owned["Resources"]["ProdVpcS3Endpoint"]["Properties"]
    assert (props["ServiceName"], props["ServiceRegion"], props["VpcEndpointType"]) == (
        "com.amazonaws.eu-west-1.s3", "eu-west-1", "Interface")
    other = owned["Resources"]["ProdVpcKmsEndpoint"]["Properties"]
    assert "ServiceRegion" not in other and other["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.kms"}


def _serving_in(region: str) -> str:
    """The example in two regions, every network in eu-central-1, the repository in `region`."""
    return two_regions(EX).replace('  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-west-1"\n',
                                   '  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-central-1"\n').replace(
        '  name   "llm-serving"\n  region "eu-central-1"\n', f'  name   "llm-serving"\n  region "{region}"\n')


def test_a_repository_of_another_region_needs_both_ecr_endpoints_to_reach_it(tmp_path, capsys):
    text = _serving_in("eu-west-1")
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E448]: repository `serving` is in eu-west-1, and network `prod_vpc` reaches ecr.api " \
        "and ecr.dkr only through interface endpoints of eu-central-1" in err, err
    api = text.replace('"vpce-01a2b3c4d5e6f7a81"\n', '"vpce-01a2b3c4d5e6f7a81" region "eu-west-1"\n')
    rc, err, _, _ = run(tmp_path, capsys, api)
    assert rc == 2 and "reaches ecr.dkr only through interface endpoints of eu-central-1" in err, err
    both = api.replace('"vpce-01a2b3c4d5e6f7a82"\n', '"vpce-01a2b3c4d5e6f7a82" region "eu-west-1"\n')
    rc, err, _, _ = run(tmp_path, capsys, both)
    assert rc == 0 and "E448" not in err, err


def test_no_cross_region_diagnostic_in_the_same_region_or_from_public_ranges_alone(tmp_path, capsys):
    rc, err, _, _ = run(tmp_path, capsys, EX)
    assert "E448" not in err and "E449" not in err
    # corp_office has public ranges only: the public endpoint of any region serves them
    text = _serving_in("eu-west-1").replace(
        "allow inference     pull   serving                from prod_vpc\n", "").replace(
        "from prod_vpc, corp_office", "from corp_office")
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 0 and "E448" not in err, err


@pytest.mark.parametrize("line, words", [
    ('  endpoint s3                "vpce-01a2b3c4d5e6f7a80" gateway region "eu-west-1"\n',
     "a gateway endpoint reaches only its VPC's region"),
    ('  endpoint s3                "vpce-01a2b3c4d5e6f7a80" region "eu-west-1"\n',  # s3 defaults to gateway
     "a gateway endpoint reaches only its VPC's region"),
    ('  endpoint sagemaker.runtime "vpce-01a2b3c4d5e6f7a84" region "eu-west-1"\n',
     "AWS PrivateLink has no cross-region endpoints for sagemaker.runtime"),
], ids=["gateway", "s3-default-gateway", "sagemaker.runtime"])
def test_e449_region_where_no_cross_region_endpoint_exists(tmp_path, capsys, line, words):
    old = S3_LINE if line.startswith("  endpoint s3") else '  endpoint sagemaker.runtime "vpce-01a2b3c4d5e6f7a84"\n'
    text = two_regions(EX).replace(old, line)
    assert text != two_regions(EX)
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E449]" in err and words in err, err
    n = next(i for i, ln in enumerate(text.splitlines(), 1) if ln == line.rstrip("\n"))
    assert located(err, path, n, line.index('"eu-west-1"') + 1), err


def test_an_endpoint_region_outside_the_deployment_is_e309(tmp_path, capsys):
    text = EX.replace('  endpoint kms               "vpce-01a2b3c4d5e6f7a83"\n',
                      '  endpoint kms               "vpce-01a2b3c4d5e6f7a83" region "us-east-1"\n')
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2 and 'error[E309]: endpoint vpce-01a2b3c4d5e6f7a83 reaches region "us-east-1"' in err, err


def test_an_endpoint_line_with_something_else_after_its_type(tmp_path, capsys):
    text = EX.replace('"vpce-01a2b3c4d5e6f7a80" gateway', '"vpce-01a2b3c4d5e6f7a80" gateway "eu-west-1"')
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E112]" in err and "`region`" in err, err


def test_e448_execute_api_of_another_region(tmp_path, capsys):
    """A private API of eu-central-1 from a VPC of eu-west-1: execute-api has no cross-region endpoints."""
    from slpc.compiler.networks import CROSS_REGION_SERVICES

    assert "execute-api" not in CROSS_REGION_SERVICES and "sagemaker.runtime" not in CROSS_REGION_SERVICES
    text = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1", "eu-west-1"]
}
network vpc {
  region "eu-west-1"
  endpoint execute-api "vpce-00000000000000005"
}
role app "arn:aws:iam::111122223333:role/app"
endpoint chat_api {
  apigateway "a1b2c3d4e5"
  stage      "prod"
  region     "eu-central-1"
}
allow app invoke chat_api from vpc
'''
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E448]: api `chat_api` is in eu-central-1, and network `vpc` reaches execute-api " \
        "only through interface endpoints of eu-west-1" in err, err
    assert "execute-api interface endpoints reach only their VPC's region" in err
    assert located(err, path, 15, text.splitlines()[14].index("vpc") + 1), err
    same = text.replace('region     "eu-central-1"', 'region     "eu-west-1"')
    rc, err, _, _ = run(tmp_path, capsys, same)
    assert rc == 0 and "E448" not in err, err
