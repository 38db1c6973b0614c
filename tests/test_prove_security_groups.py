"""Claim 8 of `slpc prove`: the security groups admit exactly what the spec declares.

Mutants edit the compiled example's group artifacts the way a hand edit or a builder bug
would (a widened range, a new port, an open egress, a dropped client or attachment); each
must be refuted with a problem that names traffic showing it. The range arithmetic is
checked against brute force over every address of small ranges."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slpc.app.cli import main
from slpc.app.pipeline import compile_text
from slpc.verify import security_groups as SG
from slpc.verify.prove.properties import PROVED, REFUTED, prove
from slpc.verify.prove.world import World
from strategies import PROPERTY

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp"
PROD_EP, PROD_WL = "network/prod_vpc/endpoints-security-group.json", "network/prod_vpc/workload-security-group.json"
EVAL_EP = "network/eval_vpc/endpoints-security-group.json"


@pytest.fixture(scope="module")
def example():
    compiled = compile_text(EXAMPLE.read_text(), str(EXAMPLE))
    assert compiled.ok
    return compiled


def _claim8(model, artifacts):
    (result,) = prove(World.from_artifacts(model, artifacts), numbers=[8])
    return result


def _settings(path: str, fn):
    def apply(artifacts):
        return [replace(a, settings=fn(json.loads(json.dumps(a.settings)))) if a.path == path else a
                for a in artifacts]
    return apply


def _ingress(path, fn):
    return _settings(path, lambda s: {**s, "Ingress": fn(s["Ingress"])})


def _egress(path, fn):
    return _settings(path, lambda s: {**s, "Egress": fn(s["Egress"])})


def _https(**peer):
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": "x", **peer}


MUTANTS = {
    "a client range widened": (_ingress(PROD_EP, lambda rs: [{**r, "CidrIp": "10.20.0.0/16"} if r.get("CidrIp") ==
                                                             "10.20.0.0/19" else r for r in rs]),
                               "admits TCP 443 from 10.20.64.0/18 (e.g. 10.20.64.0), which the spec does not declare"),
    "0.0.0.0/0 on 443": (_ingress(EVAL_EP, lambda rs: rs + [_https(CidrIp="0.0.0.0/0")]),
                         "admits TCP 443 from 0.0.0.0/0: every address"),
    "::/0 on 443": (_ingress(EVAL_EP, lambda rs: rs + [_https(CidrIpv6="::/0")]), "admits TCP 443 from ::/0"),
    "a port range": (_ingress(EVAL_EP, lambda rs: [{**r, "FromPort": 0, "ToPort": 65535} for r in rs]),
                     "admits TCP 0-65535 from 10.40.0.0/16"),
    "every protocol": (_ingress(EVAL_EP, lambda rs: [{**r, "IpProtocol": "-1"} for r in rs]),
                       "admits all traffic from 10.40.0.0/16"),
    "a public range": (_ingress(EVAL_EP, lambda rs: rs + [_https(CidrIp="198.51.100.0/24")]),
                       "admits TCP 443 from 198.51.100.0/24"),
    "another group": (_ingress(PROD_EP, lambda rs: rs + [_https(ReferencedGroupId="sg-0fffffffffffffff0")]),
                      "admits TCP 443 from sg-0fffffffffffffff0"),
    "endpoint group egress": (_egress(EVAL_EP, lambda rs: rs + [{"IpProtocol": "-1", "CidrIp": "10.0.0.0/8"}]),
                              "admits all traffic to 10.0.0.0/8"),
    "workload egress anywhere": (_egress(PROD_WL, lambda rs: rs + [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}]),
                                 "workload group (network/prod_vpc/workload-security-group.json): admits all traffic "
                                 "to 0.0.0.0/0: every address"),
    "workload egress to another prefix list": (
        _egress(PROD_WL, lambda rs: [{**r, "PrefixListName": "com.amazonaws.us-east-1.s3"} if "PrefixListName" in r
                                     else r for r in rs]), "admits TCP 443 to com.amazonaws.us-east-1.s3"),
    "workload ingress from a client": (_ingress(PROD_WL, lambda rs: rs + [_https(CidrIp="10.20.0.0/19")]),
                                       "admits TCP 443 from 10.20.0.0/19"),
    "a declared client dropped": (_ingress(PROD_EP, lambda rs: [r for r in rs if r.get("CidrIp") != "10.20.32.0/19"]),
                                  "does not admit declared TCP 443 from 10.20.32.0/19"),
    "a client narrowed": (_ingress(PROD_EP, lambda rs: [{**r, "CidrIp": "10.20.32.0/20"} if r.get("CidrIp") ==
                                                        "10.20.32.0/19" else r for r in rs]),
                          "does not admit declared TCP 443 from 10.20.48.0/20 (e.g. 10.20.48.0)"),
    "an endpoint left out": (_settings(PROD_EP, lambda s: {**s, "AttachTo": {"VpcEndpointIds": s["AttachTo"][
        "VpcEndpointIds"][1:]}}), "on endpoints vpce-01a2b3c4d5e6f7a82"),
    "a rule with no peer": (_ingress(EVAL_EP, lambda rs: rs + [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}]),
                            "Ingress[1] names no single CIDR, group or prefix list"),
    "a group renamed in a reference": (
        _egress(PROD_WL, lambda rs: [{**r, "ReferencedGroupName": "default"} if r.get("ReferencedGroupName", "")
                                     .endswith("-endpoints") else r for r in rs]), "admits TCP 443 to default"),
    "the group missing": (lambda arts: [a for a in arts if a.path != EVAL_EP], "eval_vpc: endpoints group: missing"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_refuted_naming_the_traffic(example, name):
    mutate, words = MUTANTS[name]
    result = _claim8(example.model, mutate(example.artifacts))
    assert result.verdict == REFUTED
    assert any(words in p for p in result.problems), result.problems


def test_the_example_s_groups_are_proved(example):
    result = _claim8(example.model, example.artifacts)
    assert (result.verdict, result.problems) == (PROVED, [])


def test_a_group_the_spec_does_not_declare_is_refuted(example):
    text = EXAMPLE.read_text().replace('  clients ["10.40.0.0/16"]\n', "")
    fewer = compile_text(text, "x.slp")
    assert fewer.ok
    result = _claim8(fewer.model, example.artifacts)  # the old build still has eval_vpc's group
    assert any("eval_vpc: endpoints group (network/eval_vpc/endpoints-security-group.json): the spec declares no "
               "such group" in p for p in result.problems)


def test_prove_refutes_a_widened_group_in_a_directory(tmp_path, capsys):
    """End to end: a hand-widened rule in a build directory, read back by `slpc prove --policies`."""
    out = tmp_path / "build"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    path = out / EVAL_EP
    doc = json.loads(path.read_text())
    doc["Ingress"][0]["CidrIp"] = "10.0.0.0/8"
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["prove", str(EXAMPLE), "--policies", str(out)]) == 1
    text = capsys.readouterr().out
    assert "[refuted] 8. security groups" in text
    assert "admits TCP 443 from 10.0.0.0/11 (e.g. 10.0.0.0), which the spec does not declare" in text


SMALL = st.integers(0, 255).flatmap(lambda base: st.integers(24, 32).map(
    lambda p: ipaddress.ip_network(f"10.0.0.{base}/{p}", strict=False)))


@PROPERTY
@given(SMALL, st.lists(SMALL, max_size=5))
def test_outside_is_exact_against_every_address(net, nets):
    part = SG._outside(net, nets)
    uncovered = {a for a in net if not any(a in n for n in nets)}
    if part is None:
        assert not uncovered
    else:
        assert part.subnet_of(net) and all(a in uncovered for a in part)
