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


WEST_KEY = EX.replace("arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666",
                      "arn:aws:kms:eu-west-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666")

# (code, spec, text under the caret, words in the message or hint)
CASES = [
    ("E440", EX.replace('"vpce-01a2b3c4d5e6f7a80" gateway', '"vpce-01a2b3c4d5e6f7a80" gatway'), "gatway",
     "`gateway` or `interface`"),
    ("E440", EX.replace('"vpce-01a2b3c4d5e6f7a83"', '"vpce-01a2b3c4d5e6f7a83" gateway'), ("a83", "gateway"),
     "kms has no gateway endpoints"),
    ("E441", two_regions(WEST_KEY), "prod_vpc", "gateway endpoint reaches only"),
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
    if code in ("E441",):
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
            '  endpoint kms "vpce-01a2b3c4d5e6f7a81"\n}\n')
    r = parse(text, "n.slp")
    assert not r.diagnostics
    out = format_spec(r.spec)
    assert 'endpoint s3  "vpce-01a2b3c4d5e6f7a80" interface\n' in out
    assert 'region "eu-central-1"\n' in out and 'clients ["10.0.0.0/16", "sg-0123456789abcdef0"]\n' in out
    again = parse(out, "n.slp").spec
    (net,) = [d for d in again.declarations if isinstance(d, ast.Network)]
    assert net.endpoints[0].type.text == "interface" and net.endpoints[1].type is None
    assert [c.value for c in net.clients] == ["10.0.0.0/16", "sg-0123456789abcdef0"]
    assert format_spec(again) == out
