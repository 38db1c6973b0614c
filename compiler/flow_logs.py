"""The VPC flow logs slpc writes: one per network with a `vpc` in the deployment account,
delivered to the spec's CloudWatch Logs log group (`deployment { flow_logs ... }`), which the
spec's key encrypts. The one model the artifacts (targets/flow_logs.py), the key policy,
both IaC targets, `slpc diff`, `slpc validate` and the prover read.

The facts, from AWS's documentation (docs/language.md#flow-logs):
- A flow log delivers to CloudWatch Logs through an IAM role of the flow log's own account,
  trusted by `vpc-flow-logs.amazonaws.com`; AWS recommends `aws:SourceAccount` (the flow log's
  owner) and `aws:SourceArn` (the flow log, `…:ec2:REGION:ACCOUNT:vpc-flow-log/ID`) against
  the confused deputy. The flow log's id is not known before it exists, so the ARN is matched
  with `ArnLike` and `vpc-flow-log/*`, as AWS suggests.
- CloudWatch Logs encrypts a log group with a KMS key of the log group's region; the key
  policy admits `logs.REGION.amazonaws.com` with `kms:EncryptionContext:aws:logs:arn` equal to
  the log group's ARN.
- Custom format fields: the version 2 (default) fields in their order, and the version 3-5
  fields that show where traffic goes (`pkt-dst-aws-service`, `flow-direction` and
  `traffic-path` are version 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Model, Network
from .values import DNS_SUFFIX

# The default format's fields (version 2), in AWS's order.
DEFAULT_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
                  "protocol", "packets", "bytes", "start", "end", "action", "log-status")
# The fields that show egress: which AWS service a packet went to, in or out, and by which path.
EGRESS_FIELDS = ("pkt-dst-aws-service", "flow-direction", "traffic-path")
# Every field slpc asks for: the defaults, where the flow is (version 3) and the egress fields.
FIELDS = DEFAULT_FIELDS + ("vpc-id", "subnet-id", "instance-id", "pkt-srcaddr", "pkt-dstaddr",
                           "pkt-src-aws-service") + EGRESS_FIELDS
# The fields a flow log must carry to count as slpc's evidence (validate, diff).
REQUIRED_FIELDS = DEFAULT_FIELDS + EGRESS_FIELDS
TRAFFIC_TYPE = "ALL"
AGGREGATION_SECONDS = 600  # AWS's default maximum aggregation interval
# CloudWatch Logs' allowed retention periods (PutRetentionPolicy), in days.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)
DEFAULT_RETENTION_DAYS = 365
FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
# What CloudWatch Logs does with the log group's key (AWS documents `kms:Encrypt*`, `kms:Decrypt*`,
# `kms:ReEncrypt*`, `kms:GenerateDataKey*`, `kms:Describe*`; slpc names the symmetric-key actions,
# no wildcard, no data key pairs).
LOGS_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo")
LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"
# What the delivery role may do, on the log group only (AWS's list without logs:CreateLogGroup, as
# slpc creates the group, and logs:DescribeLogGroups, which takes no resource).
DELIVERY_ACTIONS = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")


def log_format(fields: tuple[str, ...] = FIELDS) -> str:
    return " ".join("${" + f + "}" for f in fields)


def fields_of(fmt: str) -> tuple[str, ...]:
    """The fields of a custom format (`${a} ${b}`), in order."""
    return tuple(re.findall(r"\$\{([a-z0-9-]+)\}", fmt or ""))


@dataclass(frozen=True)
class Destination:
    """The log group every flow log of the deployment delivers to, and its delivery role."""

    log_group: str
    arn: str  # arn:P:logs:REGION:ACCOUNT:log-group:NAME
    account: str
    region: str
    key: str  # the spec key's name
    key_arn: str
    retention_days: int
    role_name: str
    role_arn: str
    logs_principal: str  # logs.REGION.amazonaws.com

    @property
    def source_arn(self) -> str:
        """The ARN pattern of the flow logs that may use the delivery role (their ids are unknown)."""
        return f"arn:{self.arn.split(':')[1]}:ec2:{self.region}:{self.account}:vpc-flow-log/*"


@dataclass(frozen=True)
class FlowLog:
    network: str
    vpc: str
    account: str
    region: str
    destination: Destination
    fields: tuple[str, ...] = FIELDS
    traffic_type: str = TRAFFIC_TYPE

    @property
    def log_format(self) -> str:
        return log_format(self.fields)


def role_name(model: Model) -> str:
    """`slpc-<deployment>-flow-logs`, in IAM's role-name characters and length."""
    raw = re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", f"slpc-{model.deployment.name}")
    return raw[:64 - len("-flow-logs")] + "-flow-logs"


def destination(model: Model) -> Destination | None:
    fl = model.deployment.flow_logs
    if fl is None:
        return None
    key = model.keys[fl.key]
    dep = model.deployment
    part = dep.partition
    name = role_name(model)
    return Destination(fl.log_group, f"arn:{part}:logs:{key.region}:{dep.account}:log-group:{fl.log_group}",
                       dep.account, key.region, key.name, key.arn, fl.retention_days, name,
                       f"arn:{part}:iam::{dep.account}:role/{name}",
                       f"logs.{key.region}.{DNS_SUFFIX[part]}")


def logged(model: Model, net: Network) -> bool:
    """Whether slpc writes a flow log for the network: it has a VPC in the deployment account."""
    return bool(net.vpc) and net.account == model.deployment.account


def flow_logs(model: Model) -> list[FlowLog]:
    """Every flow log slpc writes, by network name (none without a destination)."""
    dest = destination(model)
    if dest is None:
        return []
    return [FlowLog(n.name, n.vpc or "", n.account, n.region or dest.region, dest)
            for name, n in sorted(model.networks.items()) if logged(model, n)]
