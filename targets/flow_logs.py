"""The flow-log artifacts: each network's flow log (`network/<name>/flow-log.json`, shaped like
EC2's CreateFlowLogs request) and their one destination (`logs/flow-logs.json`: the log group,
its key and retention, and the delivery role with its trust and permissions policies). What
they say is `slpc.compiler.flow_logs`; the key policy's statement for CloudWatch Logs is
`logs_key_statement`, read by targets/key.py. See docs/manifest.md for the shapes.
"""

from __future__ import annotations

from slpc.compiler import flow_logs as F
from slpc.compiler.model import Key, Model
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement, to_json

from .artifact import Artifact

FLOW_LOG_KIND = "ec2-flow-log"
DESTINATION_KIND = "logs-flow-log-destination"
DESTINATION_PATH = "logs/flow-logs.json"
SOURCE_ACCOUNT, SOURCE_ARN = "aws:SourceAccount", "aws:SourceArn"
PRINCIPAL_SERVICE = "aws:PrincipalServiceName"


def path(network: str) -> str:
    return f"network/{network}/flow-log.json"


def trust_policy(dest: F.Destination) -> PolicyDocument:
    """Only the flow logs of the deployment account, in the log group's region, may use the role."""
    return PolicyDocument((Statement(
        "Allow", actions=("sts:AssumeRole",), sid="VpcFlowLogsOfThisAccount",
        principal=Principal(entries=(("Service", (F.FLOW_LOGS_SERVICE,)),)),
        conditions=(Condition("StringEquals", SOURCE_ACCOUNT, (dest.account,)),
                    Condition("ArnLike", SOURCE_ARN, (dest.source_arn,)))),))


def delivery_policy(dest: F.Destination) -> PolicyDocument:
    """Write log streams of the one log group (`NAME:*` names its streams; a name has no `:`)."""
    return PolicyDocument((Statement("Allow", actions=F.DELIVERY_ACTIONS, resources=(dest.arn, f"{dest.arn}:*"),
                                     sid="DeliverToTheFlowLogGroup"),))


def logs_key_statement(model: Model, key: Key) -> Statement | None:
    """The key policy's admission of CloudWatch Logs: its regional service principal, only for
    the flow-log group's encryption context (AWS's documented form, actions named; `StringEquals`
    on the exact ARN where AWS's example has an ARN operator: the key is a String key, and Access
    Analyzer flags an ARN operator on it, TYPE_MISMATCH)."""
    dest = F.destination(model)
    if dest is None or dest.key != key.name:
        return None
    return Statement("Allow", actions=F.LOGS_KEY_ACTIONS, resources=("*",), sid="CloudWatchLogsForTheFlowLogGroup",
                     principal=Principal(entries=(("Service", (dest.logs_principal,)),)),
                     conditions=(Condition("StringEquals", F.LOGS_CONTEXT_KEY, (dest.arn,)),))


def logs_exemption(model: Model, key: Key) -> tuple[Condition, ...]:
    """What the key's crypto denies add so that they leave CloudWatch Logs to its one Allow
    (a service principal carries no `aws:PrincipalArn`, so a deny on it would catch the service)."""
    dest = F.destination(model)
    if dest is None or dest.key != key.name:
        return ()
    return (Condition("StringNotEqualsIfExists", PRINCIPAL_SERVICE, (dest.logs_principal,)),)


def destination_settings(dest: F.Destination) -> dict:
    return {"LogGroupName": dest.log_group, "Arn": dest.arn, "Region": dest.region, "KmsKeyId": dest.key_arn,
            "RetentionInDays": dest.retention_days,
            "DeliveryRole": {"RoleName": dest.role_name, "Arn": dest.role_arn,
                             "AssumeRolePolicyDocument": to_json(trust_policy(dest)),
                             "Policy": to_json(delivery_policy(dest))}}


def flow_log_settings(fl: F.FlowLog) -> dict:
    return {"ResourceType": "VPC", "ResourceIds": [fl.vpc], "Region": fl.region, "TrafficType": fl.traffic_type,
            "LogDestinationType": "cloud-watch-logs", "LogDestination": fl.destination.arn,
            "DeliverLogsPermissionArn": fl.destination.role_arn, "LogFormat": fl.log_format,
            "MaxAggregationInterval": F.AGGREGATION_SECONDS}


def flow_log_artifacts(model: Model):
    dest = F.destination(model)
    if dest is None:
        return [], []
    arts = [Artifact(DESTINATION_KIND, dest.arn, dest.account, DESTINATION_PATH, "flow_logs",
                     settings=destination_settings(dest))]
    arts += [Artifact(FLOW_LOG_KIND, fl.vpc, fl.account, path(fl.network), fl.network, settings=flow_log_settings(fl))
             for fl in F.flow_logs(model)]
    return arts, []
