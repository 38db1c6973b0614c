"""The flow-log artifacts: each network's flow log (`network/<name>/flow-log.json`, shaped like
EC2's CreateFlowLogs request) and their one destination (`logs/flow-logs.json`: the log group,
its key and retention, and the delivery role with its trust and permissions policies). What
they say is `slpc.compiler.flow_logs`; the key policy's statements for CloudWatch Logs are
`logs_statements`, read by targets/key.py. See docs/manifest.md for the shapes.
"""

from __future__ import annotations

from slpc.compiler import flow_logs as F
from slpc.compiler import verbs as V
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


def logs_statements(model: Model, key: Key) -> list[Statement]:
    """The key policy's admission of CloudWatch Logs and the denies that hold it, whatever else
    the policy allows to `Principal "*"` (the account-wide form), to the flow-log group's
    encryption context and CloudWatch Logs' actions. The Allow is AWS's documented form with
    its wildcards named and `StringEquals` on the exact ARN where AWS's example has an ARN
    operator: the key is a String key, and Access Analyzer flags an ARN operator on it."""
    dest = F.destination(model)
    if dest is None or dest.key != key.name:
        return []
    logs = Condition("StringEquals", PRINCIPAL_SERVICE, (dest.logs_principal,))
    others = tuple(sorted(set(V.KMS_CRYPTO_ACTIONS) - set(F.LOGS_KEY_ACTIONS)))
    return [Statement("Allow", actions=F.LOGS_KEY_ACTIONS, resources=("*",), sid="CloudWatchLogsForTheFlowLogGroup",
                      principal=Principal(entries=(("Service", (dest.logs_principal,)),)),
                      conditions=(Condition("StringEquals", F.LOGS_CONTEXT_KEY, (dest.arn,)),)),
            Statement("Deny", actions=tuple(sorted(V.KMS_CRYPTO_ACTIONS)), resources=("*",), principal=Principal.any(),
                      sid="DenyCloudWatchLogsOtherLogGroups",
                      conditions=(logs, Condition("StringNotEquals", F.LOGS_CONTEXT_KEY, (dest.arn,)))),
            Statement("Deny", actions=others, resources=("*",), principal=Principal.any(),
                      sid="DenyCloudWatchLogsOtherActions", conditions=(logs,))]


def logs_exemption(model: Model, key: Key) -> tuple[Condition, ...]:
    """What the key's other crypto denies add so that they leave CloudWatch Logs to the
    statements above (a service principal carries no `aws:PrincipalArn`, so a deny on it
    would catch the service)."""
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
