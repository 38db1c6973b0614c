"""`slpc validate` for the flow logs slpc writes, read-only: each declared VPC must have a flow
log of all traffic to the compiled log group, through the compiled role, whose format records
at least the default fields and the egress fields, and whose delivery has not failed
(ec2:DescribeFlowLogs, its DeliverLogsStatus); the log group must
exist with the compiled key and retention (logs:DescribeLogGroups), and the delivery role with
the compiled trust and permissions (iam:GetRole, its policies). A VPC without any flow log is
missing evidence; one logging elsewhere, or without the fields, is drift.
"""

from __future__ import annotations

from slpc.compiler.flow_logs import REQUIRED_FIELDS, fields_of
from slpc.policy.document import PolicyDocument, PolicyFormatError, from_json

from . import compare as C
from .fetch import Fetcher
from .findings import CANNOT_VERIFY, DRIFT, MISSING, Finding, Report, drift_findings


def _destination_of(fl: dict) -> str:
    """Where a deployed flow log delivers: its destination ARN (or its log group's name)."""
    return fl.get("LogDestination") or fl.get("LogGroupName") or ""


def _ours(fl: dict, s: dict) -> bool:
    dest = _destination_of(fl).removesuffix(":*")
    return dest in (s["LogDestination"], s["LogDestination"].rsplit(":log-group:", 1)[1])


def problems(fl: dict, s: dict) -> list[tuple[str, str]]:
    """(code, message) for each way a deployed flow log to the right group falls short."""
    out = []
    if fl.get("TrafficType") != s["TrafficType"]:
        out.append(("flow-log-traffic", f"records {fl.get('TrafficType')} traffic, not {s['TrafficType']}"))
    have = set(fields_of(fl.get("LogFormat", "")))
    lacking = [f for f in REQUIRED_FIELDS if f not in have]
    if lacking:
        out.append(("flow-log-format", "its format lacks " + ", ".join(lacking)))
    if fl.get("DeliverLogsPermissionArn") != s["DeliverLogsPermissionArn"]:
        out.append(("flow-log-role", f"delivers through {fl.get('DeliverLogsPermissionArn') or 'no role'}, not "
                                     f"{s['DeliverLogsPermissionArn']}"))
    if fl.get("DeliverLogsStatus") == "FAILED":  # set as written, its records still do not arrive
        out.append(("flow-log-delivery", f"fails to deliver ({fl.get('DeliverLogsErrorMessage') or 'FAILED'}): "
                                         "its records do not reach the log group"))
    return out


def check_flow_log(f: Fetcher, art, rep: Report) -> None:
    s = art.settings
    vpc, region = s["ResourceIds"][0], s["Region"]
    read = f.flow_logs(vpc, region)
    if read.problem:
        rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target, read.problem, code="cannot-verify"))
        return
    if not read.value:
        rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {vpc} has no flow log: its traffic "
                                    "is not recorded", code="missing-resource"))
        return
    ours = [fl for fl in read.value if _ours(fl, s)]
    if not ours:
        elsewhere = ", ".join(sorted(_destination_of(fl) for fl in read.value))
        rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: no flow log of {vpc} delivers to "
                                    f"{s['LogDestination']} (they deliver to {elsewhere})",
                                    code="flow-log-destination"))
        return
    found = [problems(fl, s) for fl in ours]
    if any(not p for p in found):  # one flow log to the group that records what slpc asks is enough
        rep.checked.append(art.path)
        return
    for fl, ps in zip(ours, found):
        for code, message in ps:
            rep.findings.append(Finding(DRIFT, art.path, art.target,
                                        f"{art.kind}: flow log {fl.get('FlowLogId')} of {vpc} {message}", code=code))


def check_destination(f: Fetcher, art, rep: Report) -> None:
    s = art.settings
    read = f.log_group(s["LogGroupName"], s["Region"])
    if read.problem or read.missing:
        rep.findings.append(Finding(CANNOT_VERIFY if read.problem else MISSING, art.path, art.target,
                                    read.problem or f"{art.kind}: {read.missing}",
                                    code="cannot-verify" if read.problem else "missing-resource"))
        return
    g, before = read.value, len(rep.findings)
    if g.get("kmsKeyId") != s["KmsKeyId"]:
        rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: {s['LogGroupName']} is encrypted "
                                    f"with {g.get('kmsKeyId') or 'no customer key'}, not {s['KmsKeyId']}",
                                    code="log-group-key"))
    if g.get("retentionInDays") != s["RetentionInDays"]:
        kept = g.get("retentionInDays")
        rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: {s['LogGroupName']} keeps events "
                                    f"{'forever' if kept is None else f'{kept} days'}, not {s['RetentionInDays']} days",
                                    code="log-group-retention"))
    _role(f, art, rep)
    if len(rep.findings) == before:
        rep.checked.append(art.path)


def _role(f: Fetcher, art, rep: Report) -> None:
    """The delivery role's trust policy and its policies (all of them, as one identity
    policy), compared with the compiled documents by meaning, as `slpc validate` compares
    every role."""
    role = art.settings["DeliveryRole"]
    for kind, read, compiled in (
            ("iam-role-trust-policy", f.role_trust(role["Arn"]), role["AssumeRolePolicyDocument"]),
            ("iam-identity-policy", f.role_policies(role["Arn"]), role["Policy"])):
        if read.problem or read.missing:
            rep.findings.append(Finding(CANNOT_VERIFY if read.problem else MISSING, art.path, role["Arn"],
                                        read.problem or f"{art.kind}: delivery role: {read.missing}",
                                        code="cannot-verify" if read.problem else "missing-resource"))
            return
        try:
            deployed = (PolicyDocument(tuple(st for _, doc in read.value for st in from_json(doc).statements))
                        if kind == "iam-identity-policy" else from_json(read.value))
        except (PolicyFormatError, ValueError, TypeError) as exc:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, role["Arn"],
                                        f"cannot verify: the delivery role's policy is malformed ({exc})",
                                        code="malformed-policy"))
            continue
        rep.findings += drift_findings(art.path, role["Arn"], f"{art.kind}: delivery role",
                                       C.compare_counted(deployed, from_json(compiled), kind, role["Arn"], art.account))
