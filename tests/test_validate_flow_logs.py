"""`slpc validate` on the flow logs slpc writes, against moto's server (which implements EC2
flow logs and CloudWatch Logs log groups): made as compiled they are in sync; a VPC without a
flow log, one logging elsewhere or without the egress fields, and a log group with another key
or retention are findings."""

from __future__ import annotations

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

import live_fixtures as L  # noqa: E402

from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.compiler.flow_logs import DEFAULT_FIELDS, log_format  # noqa: E402
from slpc.policy.kinds import FLOW_LOG_KINDS  # noqa: E402
from slpc.verify.live.fetch import Fetcher  # noqa: E402
from slpc.verify.live.validate import Validator  # noqa: E402
from test_validate_live import server  # noqa: E402,F401  (moto's server on 127.0.0.1, one per module)

SPEC = '''deployment "net" {{
  account "123456789012"
  regions ["eu-central-1"]
  flow_logs "/slpc/net/vpc-flow-logs" key logs_key
}}
network prod_vpc {{
  vpc "{vpc}"
  endpoint s3 "vpce-0a1b2c3d4e5f67890"
}}
role admin "arn:aws:iam::123456789012:role/admin" {{
  assumed_by identity_center "Admin"
  admins [admin]
}}
key logs_key {{
  arn    "{key}"
  admins [admin]
}}
'''
FLOW_LOG = "network/prod_vpc/flow-log.json"
DESTINATION = "logs/flow-logs.json"


class Net:
    """A VPC, the log group, the delivery role and the flow log, made as the IaC targets make them."""

    def __init__(self, url: str, make_flow_log: bool = True):
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()
        self.url = url
        s = L.session()
        self.ec2 = s.client("ec2", region_name=L.REGION, endpoint_url=url)
        self.logs = s.client("logs", region_name=L.REGION, endpoint_url=url)
        iam = s.client("iam", region_name=L.REGION, endpoint_url=url)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        key = s.client("kms", region_name=L.REGION, endpoint_url=url).create_key()["KeyMetadata"]["Arn"]
        c = compile_text(SPEC.format(vpc=self.vpc, key=key), "net.slp")
        assert c.ok, [d.message for d in c.diagnostics]
        self.artifacts = [a for a in c.artifacts if a.kind in FLOW_LOG_KINDS]
        by = {a.path: a.settings for a in self.artifacts}
        self.dest, self.fl = by[DESTINATION], by[FLOW_LOG]
        self.logs.create_log_group(logGroupName=self.dest["LogGroupName"], kmsKeyId=self.dest["KmsKeyId"])
        self.logs.put_retention_policy(logGroupName=self.dest["LogGroupName"],
                                       retentionInDays=self.dest["RetentionInDays"])
        import json
        role = self.dest["DeliveryRole"]
        iam.create_role(RoleName=role["RoleName"], AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]))
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="slpc-net", PolicyDocument=json.dumps(role["Policy"]))
        self.iam, self.role = iam, role
        if make_flow_log:
            self.flow_log()

    def flow_log(self, **changes):
        args = dict(ResourceIds=self.fl["ResourceIds"], ResourceType=self.fl["ResourceType"],
                    TrafficType=self.fl["TrafficType"], LogDestinationType=self.fl["LogDestinationType"],
                    LogDestination=self.fl["LogDestination"], DeliverLogsPermissionArn=self.fl["DeliverLogsPermissionArn"],
                    LogFormat=self.fl["LogFormat"], MaxAggregationInterval=self.fl["MaxAggregationInterval"])
        args.update(changes)
        # AWS takes the log group by ARN (LogDestination, as the IaC targets write it) or by name
        # (LogGroupName) alike; moto works out DeliverLogsStatus from the name only (FAILED for
        # any ARN), so the group is named by its name here.
        args["LogGroupName"] = args.pop("LogDestination").split(":log-group:", 1)[1].removesuffix(":*")
        args.pop("LogDestinationType")
        return self.ec2.create_flow_logs(**{k: v for k, v in args.items() if v is not None})

    def validate(self):
        f = Fetcher(L.session(), region=L.REGION, endpoint_url=self.url)
        return Validator(f, f.caller_account()).run(self.artifacts)


def codes(rep, path):
    return sorted(f.code for f in rep.findings if f.artifact == path)


def test_flow_logs_made_as_compiled_are_in_sync(server):
    rep = Net(server).validate()
    assert rep.findings == []
    assert sorted(rep.checked) == [DESTINATION, FLOW_LOG]


def test_a_declared_vpc_without_a_flow_log_is_missing_evidence(server):
    rep = Net(server, make_flow_log=False).validate()
    (f,) = [f for f in rep.findings if f.artifact == FLOW_LOG]
    assert f.kind == "missing" and "has no flow log" in f.message


def test_a_flow_log_to_another_log_group_is_drift(server):
    net = Net(server, make_flow_log=False)
    other = net.fl["LogDestination"].replace("vpc-flow-logs", "somewhere-else")
    net.logs.create_log_group(logGroupName="/slpc/net/somewhere-else")
    net.flow_log(LogDestination=other)
    rep = net.validate()
    assert codes(rep, FLOW_LOG) == ["flow-log-destination"]
    assert "somewhere-else" in rep.findings[0].message


@pytest.mark.parametrize("fmt,lacking", [
    (log_format(DEFAULT_FIELDS), "pkt-dst-aws-service, flow-direction, traffic-path"),
    (None, "pkt-dst-aws-service"),  # AWS's default format: version 2 fields only
    (log_format(tuple(f for f in DEFAULT_FIELDS if f != "action") + ("pkt-dst-aws-service", "flow-direction",
                                                                    "traffic-path")), "action"),
])
def test_a_flow_log_without_the_fields_is_drift(server, fmt, lacking):
    net = Net(server, make_flow_log=False)
    net.flow_log(LogFormat=fmt)
    rep = net.validate()
    assert codes(rep, FLOW_LOG) == ["flow-log-format"]
    assert lacking in rep.findings[0].message


def test_rejected_traffic_only_and_another_role_are_drift(server):
    net = Net(server, make_flow_log=False)
    net.flow_log(TrafficType="REJECT", DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/other")
    rep = net.validate()
    assert codes(rep, FLOW_LOG) == ["flow-log-role", "flow-log-traffic"]


def test_one_good_flow_log_beside_another_is_enough(server):
    net = Net(server)
    net.logs.create_log_group(logGroupName="/team/rejects")
    net.flow_log(TrafficType="REJECT", LogFormat=None,
                 LogDestination=net.fl["LogDestination"].replace("/slpc/net/vpc-flow-logs", "/team/rejects"))
    assert net.validate().findings == []


def test_the_log_group_with_another_key_or_retention_is_drift(server):
    net = Net(server)
    net.logs.delete_log_group(logGroupName=net.dest["LogGroupName"])
    net.logs.create_log_group(logGroupName=net.dest["LogGroupName"])  # no key
    net.logs.put_retention_policy(logGroupName=net.dest["LogGroupName"], retentionInDays=30)
    rep = net.validate()
    assert codes(rep, DESTINATION) == ["log-group-key", "log-group-retention"]
    assert "30 days, not 365" in " ".join(f.message for f in rep.findings)


def test_a_missing_log_group_is_missing(server):
    net = Net(server)
    net.logs.delete_log_group(logGroupName=net.dest["LogGroupName"])
    rep = net.validate()
    assert [(f.kind, f.code) for f in rep.findings if f.artifact == DESTINATION] == [("missing", "missing-resource")]


def test_a_delivery_role_that_writes_anywhere_or_trusts_more_is_drift(server):
    import json
    net = Net(server)
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents",
                                                    "Resource": "*"}]}
    net.iam.put_role_policy(RoleName=net.role["RoleName"], PolicyName="extra", PolicyDocument=json.dumps(wide))
    trust = dict(net.role["AssumeRolePolicyDocument"])
    trust["Statement"] = [{k: v for k, v in st.items() if k != "Condition"} for st in trust["Statement"]]
    net.iam.update_assume_role_policy(RoleName=net.role["RoleName"], PolicyDocument=json.dumps(trust))
    rep = net.validate()
    found = [f for f in rep.findings if f.artifact == DESTINATION]
    assert {f.code for f in found} == {"extra-access"} and len(found) >= 2, [f.message for f in rep.findings]
    assert all("delivery role" in f.message for f in found)


def test_a_missing_delivery_role_is_missing(server):
    net = Net(server)
    net.iam.delete_role_policy(RoleName=net.role["RoleName"], PolicyName="slpc-net")
    net.iam.delete_role(RoleName=net.role["RoleName"])
    rep = net.validate()
    assert [(f.kind, f.code) for f in rep.findings if f.artifact == DESTINATION] == [("missing", "missing-resource")]


def test_a_flow_log_whose_delivery_fails_is_drift(server):
    """Set as compiled, a flow log whose delivery fails (DeliverLogsStatus FAILED: here its log
    group was gone when it was made, and the role may not create it) records nothing: drift,
    with AWS's reason; the missing group is the destination's own finding."""
    net = Net(server, make_flow_log=False)
    net.logs.delete_log_group(logGroupName=net.dest["LogGroupName"])
    net.flow_log()
    rep = net.validate()
    assert codes(rep, FLOW_LOG) == ["flow-log-delivery"]
    (f,) = [f for f in rep.findings if f.artifact == FLOW_LOG]
    assert "Access error" in f.message and FLOW_LOG not in rep.checked
    assert codes(rep, DESTINATION) == ["missing-resource"]
