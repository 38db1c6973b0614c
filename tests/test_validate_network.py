"""`slpc validate` on the security groups slpc writes, against moto's server: the groups are
created by hand with boto3 (as Terraform or CloudFormation would), then drifted."""

from __future__ import annotations

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

import live_fixtures as L  # noqa: E402

from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.policy.kinds import SECURITY_GROUP_KINDS  # noqa: E402
from slpc.verify.live.fetch import Fetcher  # noqa: E402
from slpc.verify.live.validate import Validator  # noqa: E402
from test_validate_live import server  # noqa: E402,F401  (moto's server on 127.0.0.1, one per module)

SPEC = '''deployment "net" {{
  account "123456789012"
  regions ["eu-central-1"]
}}
network prod_vpc {{
  vpc "{vpc}"
  endpoint s3      "{s3}" gateway
  endpoint ecr.api "{api}"
  clients ["10.20.0.0/19", "{client}"]
  subnets ["{subnet}"]
}}
'''
ENDPOINTS = "network/prod_vpc/endpoints-security-group.json"
WORKLOAD = "network/prod_vpc/workload-security-group.json"


def _https(**peer) -> dict:
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **peer}


class Net:
    """A VPC, its endpoints and the two groups, created the way the IaC targets create them."""

    def __init__(self, url: str):
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()
        self.url = url
        self.ec2 = L.session().client("ec2", region_name=L.REGION, endpoint_url=url)
        ec2 = self.ec2
        self.vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.subnet = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.20.0.0/19")["Subnet"]["SubnetId"]
        self.client_sg = ec2.create_security_group(GroupName="clients", Description="clients",
                                                   VpcId=self.vpc)["GroupId"]
        self.s3 = ec2.create_vpc_endpoint(VpcId=self.vpc, ServiceName=f"com.amazonaws.{L.REGION}.s3",
                                          VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]
        c = compile_text(SPEC.format(vpc=self.vpc, s3=self.s3, api="vpce-00000000000000001", client=self.client_sg,
                                     subnet=self.subnet), "net.slp")
        assert c.ok, [d.message for d in c.diagnostics]
        groups = {a.path: a for a in c.artifacts if a.kind in SECURITY_GROUP_KINDS}
        self.ep_name = groups[ENDPOINTS].settings["GroupName"]
        self.wl_name = groups[WORKLOAD].settings["GroupName"]
        self.ep = self._group(self.ep_name)
        self.wl = self._group(self.wl_name)
        self.api = ec2.create_vpc_endpoint(VpcId=self.vpc, ServiceName=f"com.amazonaws.{L.REGION}.ecr.api",
                                           VpcEndpointType="Interface", SubnetIds=[self.subnet],
                                           SecurityGroupIds=[self.ep])["VpcEndpoint"]["VpcEndpointId"]
        # the real endpoint id, now that it exists
        c = compile_text(SPEC.format(vpc=self.vpc, s3=self.s3, api=self.api, client=self.client_sg,
                                     subnet=self.subnet), "net.slp")
        self.artifacts = [a for a in c.artifacts if a.kind in SECURITY_GROUP_KINDS]
        s3_list = next(p["PrefixListId"] for p in ec2.describe_managed_prefix_lists()["PrefixLists"]
                       if p["PrefixListName"] == f"com.amazonaws.{L.REGION}.s3")
        ec2.authorize_security_group_ingress(GroupId=self.ep, IpPermissions=[
            _https(IpRanges=[{"CidrIp": "10.20.0.0/19"}]),
            _https(UserIdGroupPairs=[{"GroupId": self.client_sg}, {"GroupId": self.wl}])])
        ec2.authorize_security_group_ingress(GroupId=self.wl, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": self.wl}]}])
        ec2.authorize_security_group_egress(GroupId=self.wl, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": self.wl}]},
            _https(UserIdGroupPairs=[{"GroupId": self.ep}]),
            _https(PrefixListIds=[{"PrefixListId": s3_list}])])

    def _group(self, name: str) -> str:
        """A group without AWS's default allow-all egress, as both IaC targets leave it."""
        gid = self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"]
        self.ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        return gid

    def validate(self):
        f = Fetcher(L.session(), region=L.REGION, endpoint_url=self.url)
        return Validator(f, f.caller_account()).run(self.artifacts)


@pytest.fixture
def net(server):
    return Net(server)


def messages(rep, path=None):
    return [f.message for f in rep.findings if path is None or f.artifact == path]


def test_groups_made_as_compiled_are_in_sync(net):
    rep = net.validate()
    assert rep.findings == []
    assert sorted(rep.checked) == [ENDPOINTS, WORKLOAD]


def test_ingress_from_anywhere_is_drift_and_its_own_finding(net):
    net.ec2.authorize_security_group_ingress(GroupId=net.ep, IpPermissions=[_https(IpRanges=[{"CidrIp": "0.0.0.0/0"}])])
    rep = net.validate()
    codes = {f.code for f in rep.findings if f.artifact == ENDPOINTS}
    assert codes == {"ec2-endpoint-security-group", "open-ingress"}
    assert any("admits the whole Internet: ingress tcp 443 from 0.0.0.0/0" in m for m in messages(rep))
    assert ENDPOINTS not in rep.checked and WORKLOAD in rep.checked


def test_ipv6_anywhere_on_any_port_is_found(net):
    net.ec2.authorize_security_group_ingress(GroupId=net.wl, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    rep = net.validate()
    assert any(f.code == "open-ingress" and "tcp 22 from ::/0" in f.message for f in rep.findings)


def test_a_missing_rule_is_drift(net):
    net.ec2.revoke_security_group_ingress(GroupId=net.ep, IpPermissions=[_https(IpRanges=[{"CidrIp": "10.20.0.0/19"}])])
    (m,) = messages(net.validate())
    assert "lacks the rule ingress tcp 443 from 10.20.0.0/19" in m


def test_the_default_allow_all_egress_left_in_place_is_drift(net):
    net.ec2.authorize_security_group_egress(GroupId=net.ep, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    (m,) = messages(net.validate())
    assert "has a rule the spec does not: egress all traffic to 0.0.0.0/0" in m


def test_cloudformations_loopback_egress_counts_as_none(net):
    net.ec2.authorize_security_group_egress(GroupId=net.ep, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "127.0.0.1/32"}]}])
    assert net.validate().findings == []


def test_a_missing_group_and_an_endpoint_without_it(net):
    net.ec2.modify_vpc_endpoint(VpcEndpointId=net.api, RemoveSecurityGroupIds=[net.ep],
                                AddSecurityGroupIds=[net.client_sg])
    rep = net.validate()
    assert any(f.code == "endpoint-groups" and f"does not use {net.ep}" in f.message for f in rep.findings)
    net.ec2.modify_vpc_endpoint(VpcEndpointId=net.api, AddSecurityGroupIds=[net.ep])
    rep = net.validate()
    assert any(f.code == "endpoint-groups" and f"also uses {net.client_sg}" in f.message for f in rep.findings)
    for rule in net.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [net.wl]}])[
            "SecurityGroupRules"]:
        key = "revoke_security_group_egress" if rule["IsEgress"] else "revoke_security_group_ingress"
        getattr(net.ec2, key)(GroupId=net.wl, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
    net.ec2.delete_security_group(GroupId=net.wl)
    rep = net.validate()
    assert [f.code for f in rep.findings if f.artifact == WORKLOAD] == ["missing-resource"]
