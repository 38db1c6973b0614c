"""Terraform target: the compiled artifacts as one Terraform module.

`terraform_module(model, artifacts)` returns ``{relative path: file text}`` for a
module under ``terraform/``. The HCL is rendered from the jinja2 templates in
``templates/terraform/``; every policy and pattern is embedded as
``jsonencode(<HCL object expression>)``, where the expression comes from
`hcl_expr` (JSON value -> HCL text), never from a template. A last pass,
`align_equals`, aligns ``=`` the way ``terraform fmt`` does, so the output is
already in ``terraform fmt`` layout.

What the module manages, and what it only references, is in docs/terraform.md.
Nothing here creates a bucket, key, endpoint, trail, topic or detector: those are
referenced by the identifiers in the spec, or are module variables. The exception is
a role whose trust the spec states: its trust policy is part of the role, so the
module manages the role (`aws_iam_role`); an existing one is adopted with
`terraform import`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import jinja2

from slpc.compiler.model import Model
from slpc.policy.kinds import FLOW_LOG_KINDS, KINDS, SECURITY_GROUP_KINDS, SETTINGS_KINDS

from .cloudformation import trust_skips
from .fit import managed_number, managed_policy_name
from .security_groups import endpoint_region, ingress_and_egress

PROVIDER_SOURCE = "hashicorp/aws"
# aws_organizations_policy type RESOURCE_CONTROL_POLICY, aws_guardduty_detector_feature,
# aws_cloudwatch_event_rule `state`, aws_kms_key_policy: all present from 5.80 on.
PROVIDER_VERSION = ">= 5.80"
TERRAFORM_VERSION = ">= 1.3.0"  # configuration_aliases, pre/postconditions, optional()
ORGANIZATIONS_ALIAS = "organizations"
DIR = "terraform"

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "terraform"


class TerraformError(ValueError):
    """An artifact that cannot be expressed in Terraform exactly."""


# --------------------------------------------------------------------------- #
# JSON value -> HCL expression

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Bare words that an HCL object key must not be: literal keywords, and `for`,
# which would start a for expression.
_RESERVED = frozenset({"true", "false", "null", "for", "in", "if", "else", "endif", "endfor"})
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Cs"})
INDENT = "  "


def hcl_string(s: str) -> str:
    """A quoted HCL string literal whose value is exactly `s`.

    Backslash escapes for `\\`, `"`, and control characters; `${` and `%{` are
    doubled (`$${`, `%%{`) so Terraform reads IAM policy variables such as
    `${aws:username}` literally instead of interpolating them. Invisible characters
    (format, separators other than the space) are written as `\\u` escapes so
    reviewers see them. Terraform normalises every string to Unicode NFC, so a
    string that NFC would change cannot be expressed: `TerraformError`.
    """
    if not unicodedata.is_normalized("NFC", s):
        raise TerraformError(f"{s!r} is not in Unicode NFC form, and Terraform normalises every string to NFC")
    out = ['"']
    for i, ch in enumerate(s):
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch in "$%" and s.startswith("{", i + 1):
            out.append(ch + ch)
        elif ch != " " and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            code = ord(ch)
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def hcl_key(key: str) -> str:
    """An object key: a bare identifier when it is one, otherwise a quoted string."""
    if _IDENT.match(key) and key not in _RESERVED:
        return key
    return hcl_string(key)


def _scalar(value: Any) -> str | None:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TerraformError(f"{value!r} is not a JSON number")
        return repr(value)
    if isinstance(value, str):
        return hcl_string(value)
    return None


def hcl_expr(value: Any, level: int = 0) -> str:
    """The HCL expression for a JSON value (dict, list, str, int, float, bool, None).

    Objects are written one attribute per line with sorted keys (the order
    `jsonencode` writes them in) and a tuple of more than one element one element
    per line with trailing commas; empty containers and one-scalar tuples stay on
    one line. Lines after the first are indented for nesting level `level` (two
    spaces a level), so the result can follow `key = ` at that level. `=` is not
    aligned here: `align_equals` does that for the whole file.
    """
    scalar = _scalar(value)
    if scalar is not None:
        return scalar
    pad, inner = INDENT * level, INDENT * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        for k in value:
            if not isinstance(k, str):
                raise TerraformError(f"object key {k!r} is not a string")
        lines = [f"{inner}{hcl_key(k)} = {hcl_expr(value[k], level + 1)}" for k in sorted(value)]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if len(value) == 1 and _scalar(value[0]) is not None:
            return f"[{_scalar(value[0])}]"
        lines = [f"{inner}{hcl_expr(v, level + 1)}," for v in value]
        return "[\n" + "\n".join(lines) + f"\n{pad}]"
    raise TerraformError(f"{type(value).__name__} is not a JSON value")


# --------------------------------------------------------------------------- #
# terraform fmt's alignment of `=`

_OPEN = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def _assignment(line: str) -> int | None:
    """Index of the `=` that makes `line` a one-line attribute, or None.

    Mirrors hclwrite's formatter: the first `=` token (not `==`, `=>`, `!=`, `<=`,
    `>=`) outside string literals, after at least one token, counts only when the
    rest of the line opens no more brackets than it closes.
    """
    in_str = False
    i = 0
    eq = None
    depth = 0
    while i < len(line):
        ch = line[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#" or line.startswith("//", i):
            break
        elif eq is None and ch == "=" and line[i + 1:i + 2] not in ("=", ">") and line[i - 1:i] not in ("=", "!", "<", ">"):
            if not line[:i].strip():
                return None
            eq = i
        elif eq is not None and ch in _OPEN:
            depth += _OPEN[ch]
        i += 1
    if eq is None or depth != 0:
        return None
    return eq


def align_equals(text: str) -> str:
    """Align `=` in runs of consecutive one-line attributes, as `terraform fmt` does:
    one space after the longest key of the run. A blank line, a nested block, a
    closing bracket or a multi-line value ends a run."""
    lines = text.split("\n")
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(lead) for lead, _ in run), default=0)
        out.extend(f"{lead.ljust(width)} = {rest}" for lead, rest in run)
        run.clear()

    for line in lines:
        eq = _assignment(line)
        if eq is None:
            flush()
            out.append(line)
        else:
            run.append((line[:eq].rstrip(), line[eq + 1:].strip()))
    flush()
    return "\n".join(out)


def _tidy(text: str) -> str:
    """No trailing spaces, no doubled or leading blank lines, one final newline."""
    lines = [ln.rstrip() for ln in text.split("\n")]
    out: list[str] = []
    for ln in lines:
        if not ln and (not out or not out[-1]):
            continue
        out.append(ln)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- #
# Names


def identifier(*parts: str) -> str:
    """A Terraform identifier from slpc names: every character other than a letter,
    digit or `_` becomes `_`, parts are joined with `_`, and a leading digit gets a
    leading `_`."""
    text = "_".join(re.sub(r"[^A-Za-z0-9_]", "_", p) for p in parts if p)
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = "_" + text
    return text.lower() if text.isascii() else text


def _region_ident(region: str) -> str:
    return region.replace("-", "_")


# --------------------------------------------------------------------------- #
# Providers: one configuration per (account, region) an artifact lands in


@dataclass(frozen=True)
class Provider:
    account: str
    region: str | None  # None: the organization's management account (region irrelevant)
    alias: str | None  # None: the module's default `aws` provider

    @property
    def ref(self) -> str:
        return f"aws.{self.alias}" if self.alias else "aws"

    @property
    def guard(self) -> str:
        return self.alias or "default"


class Providers:
    def __init__(self, model: Model):
        dep = model.deployment
        self.account = dep.account
        self.region = dep.regions[0]
        self.org = dep.org
        self.used: dict[tuple[str, str | None], Provider] = {}

    def get(self, account: str, region: str | None) -> Provider:
        region = region or self.region
        if account == self.account and region == self.region:
            alias = None
        elif region == self.region:
            alias = f"account_{account}"
        elif account == self.account:
            alias = f"region_{_region_ident(region)}"
        else:
            alias = f"account_{account}_{_region_ident(region)}"
        return self.used.setdefault((account, region), Provider(account, region, alias))

    def organizations(self) -> Provider:
        return self.used.setdefault(("organizations", None), Provider(self.account, None, ORGANIZATIONS_ALIAS))

    def aliases(self) -> list[str]:
        return sorted(p.ref for p in self.used.values() if p.alias)

    def all(self) -> list[Provider]:
        return sorted(self.used.values(), key=lambda p: (p.alias is not None, p.alias or ""))


# --------------------------------------------------------------------------- #
# Resources handed to the templates


@dataclass
class Resource:
    type: str
    name: str
    provider: Provider
    data: dict = field(default_factory=dict)  # template values, already HCL text
    source: str = ""  # the artifact path it comes from
    role_arn: str | None = None  # a role policy's role: `_link` refers to it when the module manages it


def _policy(art) -> Any:
    """The artifact's JSON, exactly as written to its file."""
    return json.loads(art.text)


def _region_of(model: Model, art) -> str | None:
    kind = art.kind
    if kind == "s3-access-point-policy":
        return art.target.split(":")[3]
    if kind in ("s3-bucket-policy", "ecr-repository-policy") or kind.startswith("s3-"):
        asset = model.assets.get(art.name)
        return asset.region if asset else None
    if kind == "kms-key-policy":
        return model.keys[art.name].region
    if kind in ("eventbridge-rule", "apigateway-resource-policy"):
        return art.target.split(":")[3]
    if kind == "guardduty-feature":
        return art.target
    if kind == "vpc-endpoint-policy":
        return endpoint_region(model, art.target)
    if kind in SECURITY_GROUP_KINDS or kind in FLOW_LOG_KINDS:
        return art.settings["Region"]
    return None  # IAM (global)


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _deployment_label(model: Model) -> str:
    """The deployment name as an IAM/Organizations policy name fragment."""
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", model.deployment.name)


def _selectors(settings: dict) -> list[dict]:
    """CloudTrail AdvancedEventSelectors in the shape of aws_cloudtrail's
    `advanced_event_selector` blocks, every operator present (null when unused)."""
    ops = (("Equals", "equals"), ("NotEquals", "not_equals"), ("StartsWith", "starts_with"),
           ("NotStartsWith", "not_starts_with"), ("EndsWith", "ends_with"), ("NotEndsWith", "not_ends_with"))
    known = {"Field"} | {api for api, _ in ops}
    out = []
    for sel in settings["AdvancedEventSelectors"]:
        fields = []
        for fs in sel["FieldSelectors"]:
            extra = set(fs) - known
            if extra:
                raise TerraformError(f"CloudTrail field selector keys {sorted(extra)} have no Terraform argument")
            entry: dict[str, Any] = {"field": fs["Field"]}
            entry.update({tf: fs.get(api) for api, tf in ops})
            fields.append(entry)
        out.append({"name": sel.get("Name"), "field_selector": fields})
    return out


class _Module:
    """The module being assembled: resources by family (one .tf file each), variables,
    locals and outputs. Each emitter below adds what one artifact needs."""

    def __init__(self, model: Model):
        self.model = model
        self.providers = Providers(model)
        self.providers.get(model.deployment.account, None)  # the default provider always exists
        self.label = _deployment_label(model)
        self.res: dict[str, list[Resource]] = {}
        self.roles: dict[str, Resource] = {}  # role ARN -> its aws_iam_role
        self.variables: dict[str, dict] = {}
        self.locals: dict[str, str] = {}
        self.outputs: dict[str, dict] = {}

    def add(self, family: str, r: Resource) -> None:
        self.res.setdefault(family, []).append(r)

    def provider_for(self, art) -> Provider:
        return self.providers.get(art.account, _region_of(self.model, art))


# --------------------------------------------------------------------------- #
# Emitters: artifact -> resources (and the variables, locals, outputs they need)


def _role(m: _Module, art) -> None:
    """A role whose trust the spec states: the module manages its name, path, trust policy
    and session length, and its policies refer to it, so Terraform applies them after it."""
    role = m.model.principals[art.name]
    r = Resource(KINDS[art.kind].terraform, identifier(art.name), m.provider_for(art), {
        "import_id": role.name_in_iam,  # what `terraform import` adopts an existing role by
        "name": hcl_string(role.name_in_iam),
        "path": hcl_string(role.path),
        "assume_role_policy": hcl_expr(_policy(art), 1),
        "max_session_duration": None if role.session_s is None else hcl_expr(role.session_s),
        "skips": [f"{check}:{why}" for check, why in trust_skips(art)],
    }, art.path)
    m.add("iam_roles", r)
    m.roles[art.target] = r


def _role_policy(m: _Module, art) -> None:
    m.add("iam", Resource(KINDS[art.kind].terraform, identifier(art.name), m.provider_for(art), {
        "role": hcl_string(_role_name(art.target)),
        "name": hcl_string(f"slpc-{m.label}"[:128]),  # IAM: 1-128 characters
        "policy": hcl_expr(_policy(art), 1),
    }, art.path, art.target))


def _managed_policy(m: _Module, art) -> None:
    m.add("iam_managed", Resource(KINDS[art.kind].terraform, identifier(art.name, "managed", managed_number(art)),
                                  m.provider_for(art), {
        "role": hcl_string(_role_name(art.target)),
        "name": hcl_string(managed_policy_name(m.model, art)),
        "policy": hcl_expr(_policy(art), 1),
    }, art.path, art.target))


def _attached_policy(family: str, target_key: str, target: Callable[[Any], str],
                     name: Callable[[Any], str] = lambda art: identifier(art.name)):
    """A resource policy attached to one resource: its id argument, then the policy."""
    def emit(m: _Module, art) -> None:
        m.add(family, Resource(KINDS[art.kind].terraform, name(art), m.provider_for(art), {
            target_key: hcl_string(target(art)),
            "policy": hcl_expr(_policy(art), 1),
        }, art.path))
    return emit


_DELEGATION = ("CKV_AWS_70:the Principal \"*\" Allow is S3's delegation to access points, conditioned on "
               "s3:DataAccessPointArn being one of the spec's (docs/policies.md)")


def _bucket_policy(m: _Module, art) -> None:
    """A bucket policy; one that delegates to access points carries checkov's reviewed skip."""
    _attached_policy("s3", "bucket", lambda a: a.target.rsplit(":", 1)[-1])(m, art)
    if m.model.access_points(art.name):
        m.res["s3"][-1].data["skips"] = [_DELEGATION]


def _access_point(m: _Module, art) -> None:
    """The access point itself (slpc creates it, never public) with its policy."""
    m.add("s3", Resource(KINDS[art.kind].terraform, identifier(art.name), m.provider_for(art), {
        "bucket": hcl_string(art.within.rsplit(":", 1)[-1]),
        "name": hcl_string(art.name),
        "policy": hcl_expr(_policy(art), 1),
    }, art.path))


_ORG_POLICY = {"scp": ("service control policy", "SERVICE_CONTROL_POLICY"),
               "rcp": ("resource control policy", "RESOURCE_CONTROL_POLICY")}


def _organizations_policy(m: _Module, art) -> None:
    n = art.name.rsplit("-", 1)[-1]
    what, policy_type = _ORG_POLICY[art.kind]
    m.add("organizations", Resource(KINDS[art.kind].terraform, identifier(art.name),
                                    m.providers.organizations(), {
        "name": hcl_string(f"slpc-{m.label}"[:120] + f"-{art.name}"),
        "description": hcl_string(f"slpc {m.model.deployment.name}: {what} {n} "
                                  f"(from {art.path}; keep every part attached)"),
        "type": hcl_string(policy_type),
        "content": hcl_expr(_policy(art), 1),
    }, art.path))
    m.variables["organization_target_id"] = {
        "description": "The root, OU or account id (r-..., ou-..., or 12 digits) to attach slpc's "
                       "SCPs and RCPs to: normally the OU of the ML workload accounts.",
        "type": "string", "required": True,
        "validation": ('can(regex("^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|[0-9]{12})$", '
                       "var.organization_target_id))",
                       "organization_target_id must be a root id (r-...), an OU id (ou-...) "
                       "or a 12-digit account id."),
    }


def _event_rule(m: _Module, art) -> None:
    s = art.settings
    region = art.target.split(":")[3]
    var = f"alert_sns_topic_arn_{_region_ident(region)}"
    m.variables[var] = {
        "description": f"An SNS topic ARN in {region} that receives slpc's EventBridge alerts there; "
                       "null (the default) creates the rules without a target. The topic policy must "
                       "allow events.amazonaws.com to publish.",
        "type": "string", "required": False,
    }
    stem = art.path.rsplit("/", 1)[-1].removesuffix(".json").removeprefix("eventbridge-")
    m.add("audit", Resource("aws_cloudwatch_event_rule", identifier(stem), m.provider_for(art), {
        "name": hcl_string(s["Name"]),
        "description": hcl_string(s["Description"]),
        "state": hcl_string(s.get("State", "ENABLED")),
        "event_pattern": hcl_expr(s["EventPattern"], 1),
        "variable": var,
    }, art.path))


def _guardduty_features(m: _Module, art) -> None:
    region = art.target
    var = f"guardduty_detector_id_{_region_ident(region)}"
    m.variables[var] = {
        "description": f"The GuardDuty detector id in {region} (aws guardduty list-detectors "
                       f"--region {region}) whose features slpc sets.",
        "type": "string", "required": True,
    }
    for feature in art.settings["Features"]:
        extra = [{"name": hcl_string(c["Name"]), "status": hcl_string(c["Status"])}
                 for c in feature.get("AdditionalConfiguration", [])]
        m.add("audit", Resource("aws_guardduty_detector_feature", identifier(feature["Name"], region),
                                m.provider_for(art), {
            "detector_id": f"var.{var}",
            "name": hcl_string(feature["Name"]),
            "status": hcl_string(feature["Status"]),
            "additional_configuration": extra,
        }, art.path))


def _trail_selectors(m: _Module, art) -> None:
    m.locals["cloudtrail_advanced_event_selectors"] = hcl_expr(_selectors(art.settings), 1)
    m.outputs["cloudtrail_advanced_event_selectors"] = {
        "description": "slpc's CloudTrail advanced event selectors, shaped for dynamic "
                       "advanced_event_selector blocks in your aws_cloudtrail resource (see "
                       "docs/terraform.md). They replace every selector of the trail: merge yours in.",
        "value": "local.cloudtrail_advanced_event_selectors",
    }


_ENDPOINTS_ATTACHED = ("CKV2_AWS_5:attached to the network's interface endpoints by the "
                       "aws_vpc_endpoint_security_group_association resources below, which the check does not follow")
_WORKLOAD_UNATTACHED = ("CKV2_AWS_5:SageMaker jobs, models and endpoint configs use this group through their "
                        "VpcConfig (the SCP pins them to the network's declared groups), outside this module")


def _security_group(m: _Module, art) -> None:
    """The group (no inline rules: the provider revokes AWS's default allow-all egress when it
    creates a group), one rule resource per rule, and for an endpoint group its association
    with each interface endpoint it protects."""
    s = art.settings
    provider = m.provider_for(art)
    rules = []
    for direction, rule in ingress_and_egress(s):
        peer = {"cidr_ipv4": rule.get("CidrIp"), "cidr_ipv6": rule.get("CidrIpv6"),
                "referenced_security_group_id": rule.get("ReferencedGroupId")}
        entry = {"type": SETTINGS_KINDS[art.kind].terraform[1 if direction == "ingress" else 2],
                 "name": identifier(direction, next((v for v in (*peer.values(), rule.get("ReferencedGroupName"),
                                                                 rule.get("PrefixListName")) if v))),
                 "ip_protocol": hcl_string(rule["IpProtocol"]),
                 "ports": None if rule["IpProtocol"] == "-1" else (rule["FromPort"], rule["ToPort"]),
                 "peer": {k: hcl_string(v) for k, v in peer.items() if v},
                 "peer_group": rule.get("ReferencedGroupName"), "prefix_list": rule.get("PrefixListName"),
                 "description": hcl_string(rule["Description"])}
        rules.append(entry)
    m.add("network", Resource(SETTINGS_KINDS[art.kind].terraform[0],
                              identifier(art.name, art.path.rsplit("/", 1)[-1].split("-")[0]),
                              provider, {
        "group_name": s["GroupName"],
        "name": hcl_string(s["GroupName"]),
        "description": hcl_string(s["Description"]),
        "vpc_id": hcl_string(s["VpcId"]),
        "rules": rules,
        "prefix_lists": sorted({r["prefix_list"] for r in rules if r["prefix_list"]}),
        "endpoints": [(identifier(v), hcl_string(v)) for v in s.get("AttachTo", {}).get("VpcEndpointIds", [])],
        "skips": [_ENDPOINTS_ATTACHED if "AttachTo" in s else _WORKLOAD_UNATTACHED],
    }, art.path))


def _flow_log_destination(m: _Module, art) -> None:
    """The log group (its key and retention), the delivery role and its policy on the group."""
    s, role = art.settings, art.settings["DeliveryRole"]
    provider, kind = m.provider_for(art), SETTINGS_KINDS[art.kind]
    group = identifier("slpc_flow_logs")
    m.add("flow_logs", Resource(kind.terraform[0], group, provider, {"arguments": [
        ("name", hcl_string(s["LogGroupName"])), ("kms_key_id", hcl_string(s["KmsKeyId"])),
        ("retention_in_days", hcl_expr(s["RetentionInDays"]))], "key_policy": s["KmsKeyId"]}, art.path))
    m.add("flow_logs", Resource(kind.terraform[1], identifier("slpc_flow_logs_delivery"), m.providers.get(art.account, None),
                                {"arguments": [("name", hcl_string(role["RoleName"])),
                                               ("assume_role_policy",
                                                f"jsonencode({hcl_expr(role['AssumeRolePolicyDocument'], 1)})")]},
                                art.path))
    m.add("flow_logs", Resource(kind.terraform[2], identifier("slpc_flow_logs_delivery"), m.providers.get(art.account, None),
                                {"arguments": [("name", hcl_string(f"slpc-{m.label}"[:128])),
                                               ("role", "aws_iam_role.slpc_flow_logs_delivery.name"),
                                               ("policy", f"jsonencode({hcl_expr(role['Policy'], 1)})")]},
                                art.path))


def _flow_log(m: _Module, art) -> None:
    s = art.settings
    m.add("flow_logs", Resource(SETTINGS_KINDS[art.kind].terraform[0], identifier(art.name), m.provider_for(art),
                                {"arguments": [
        ("vpc_id", hcl_string(s["ResourceIds"][0])), ("traffic_type", hcl_string(s["TrafficType"])),
        ("log_destination_type", hcl_string(s["LogDestinationType"])),
        ("log_destination", "aws_cloudwatch_log_group.slpc_flow_logs.arn"),
        ("iam_role_arn", "aws_iam_role.slpc_flow_logs_delivery.arn"),
        ("log_format", hcl_string(s["LogFormat"])),
        ("max_aggregation_interval", hcl_expr(s["MaxAggregationInterval"]))]}, art.path))


def _bucket_setting_resource(m: _Module, art) -> None:
    m.add("s3", _bucket_setting(art, m.provider_for(art)))


EMITTERS: dict[str, Callable[[_Module, Any], None]] = {
    "iam-role-trust-policy": _role,
    "iam-identity-policy": _role_policy,
    "iam-managed-policy": _managed_policy,
    "s3-bucket-policy": _bucket_policy,
    "s3-access-point-policy": _access_point,
    "kms-key-policy": _attached_policy("kms", "key_id", lambda art: art.target),
    "ecr-repository-policy": _attached_policy("ecr", "repository", lambda art: art.target.rsplit("/", 1)[-1]),
    "vpc-endpoint-policy": _attached_policy("vpce", "vpc_endpoint_id", lambda art: art.target),
    "apigateway-resource-policy": _attached_policy("apigateway", "rest_api_id",
                                                   lambda art: art.target.rsplit("/", 1)[-1],
                                                   lambda art: identifier("api", art.name)),
    "scp": _organizations_policy,
    "rcp": _organizations_policy,
    "eventbridge-rule": _event_rule,
    "guardduty-feature": _guardduty_features,
    "cloudtrail-event-selectors": _trail_selectors,
    **{kind: _security_group for kind in SECURITY_GROUP_KINDS},
    "logs-flow-log-destination": _flow_log_destination,
    "ec2-flow-log": _flow_log,
    **{kind: _bucket_setting_resource for kind in ("s3-bucket-encryption", "s3-public-access-block",
                                                   "s3-versioning", "s3-ownership-controls", "s3-object-lock")},
}
# One .tf file per family, in this order.
FAMILIES = ("iam_roles", "iam", "iam_managed", "s3", "kms", "ecr", "vpce", "network", "flow_logs", "apigateway",
            "audit", "organizations")


def terraform_module(model: Model, artifacts: Sequence) -> dict[str, str]:
    """The Terraform module for a deployment: ``{"terraform/<file>.tf": text}``.

    `artifacts` are the `Artifact`s of `slpc.targets.build(model)`. Raises
    `TerraformError` for an artifact kind the module cannot express, or a string
    Terraform would change (non-NFC text).
    """
    m = _Module(model)
    for art in artifacts:
        emit = EMITTERS.get(art.kind)
        if emit is None:
            raise TerraformError(f"no Terraform resource for artifact kind `{art.kind}` ({art.path})")
        emit(m, art)
    _link(m)
    _summary_outputs(m)
    _group_outputs(m)
    return _render(m)


def _link(m: _Module) -> None:
    """Stable names, then what each resource waits for: its provider's guards, a role
    policy the role the module manages (by referring to it), and Object Lock its
    bucket's versioning."""
    for family in m.res.values():
        _unique_names(family)
        family.sort(key=lambda r: (r.source, r.type, r.name))
    by_source = {r.source: r for family in m.res.values() for r in family}
    for family in m.res.values():
        for r in family:
            p = r.provider
            if p.region is None:
                r.data["guards"] = [f"data.aws_organizations_organization.{p.guard}"] if m.providers.org else []
            else:
                r.data["guards"] = [f"data.aws_caller_identity.{p.guard}", f"data.aws_region.{p.guard}"]
            role = m.roles.get(r.role_arn)
            if role is not None:
                r.data["role"] = f"{role.type}.{role.name}.name"
            if r.type == "aws_security_group":
                groups = {g.data["group_name"]: g.name for g in m.res.get("network", ())}
                for rule in r.data["rules"]:
                    if rule["peer_group"]:
                        rule["peer"]["referenced_security_group_id"] = f"aws_security_group.{groups[rule['peer_group']]}.id"
            if r.type == "aws_cloudwatch_log_group":
                # CloudWatch Logs checks the key policy when the group is created with the key
                keys = [k for k in m.res.get("kms", ()) if k.data["key_id"] == hcl_string(r.data["key_policy"])]
                r.data["after"] = [f"{k.type}.{k.name}" for k in keys]
            if r.type == "aws_s3_bucket_object_lock_configuration":
                # Object Lock needs versioning on: configure it after the bucket's versioning
                versioning = by_source.get(r.source.rsplit("/", 1)[0] + "/versioning.json")
                r.data["after"] = [f"{versioning.type}.{versioning.name}"] if versioning else []


def _summary_outputs(m: _Module) -> None:
    if m.res.get("organizations"):
        m.outputs["organizations_policy_ids"] = {
            "description": "The ids of the SCPs and RCPs slpc created, by slpc name.",
            "value": "{\n" + "\n".join(f"    {hcl_key(r.name)} = aws_organizations_policy.{r.name}.id"
                                       for r in m.res["organizations"]) + "\n  }",
        }
    rules = [r for r in m.res.get("audit", []) if r.type == "aws_cloudwatch_event_rule"]
    if rules:
        m.outputs["eventbridge_rule_arns"] = {
            "description": "The ARNs of slpc's EventBridge rules, by rule name.",
            "value": "{\n" + "\n".join(f"    {r.data['name']} = aws_cloudwatch_event_rule.{r.name}.arn"
                                       for r in rules) + "\n  }",
        }


def _group_outputs(m: _Module) -> None:
    """The ids of the groups slpc creates, by group name: the workload group's id belongs in its
    network's `security_groups` (the SCP admits SageMaker only with declared groups)."""
    groups = [r for r in m.res.get("network", []) if r.type == "aws_security_group"]
    if groups:
        m.outputs["security_group_ids"] = {
            "description": "The ids of the security groups slpc created, by group name. List each workload "
                           "group's id in its network's security_groups and recompile: the SCP admits SageMaker "
                           "only with the groups the spec declares.",
            "value": "{\n" + "\n".join(f"    {hcl_string(r.data['group_name'])} = aws_security_group.{r.name}.id"
                                       for r in sorted(groups, key=lambda r: r.data["group_name"])) + "\n  }",
        }


def _render(m: _Module) -> dict[str, str]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["hcl"] = hcl_expr
    env.filters["hcl_string"] = hcl_string
    providers = m.providers
    ctx = {
        "deployment": m.model.deployment, "default": providers.get(m.model.deployment.account, None),
        "terraform_version": TERRAFORM_VERSION, "provider_source": PROVIDER_SOURCE,
        "provider_version": PROVIDER_VERSION,
    }
    files: dict[str, str] = {}
    for family in FAMILIES:
        if m.res.get(family):
            files[f"{family}.tf"] = env.get_template(f"{family}.tf.j2").render(resources=m.res[family], **ctx)
    if m.locals:
        files["locals.tf"] = env.get_template("locals.tf.j2").render(values=sorted(m.locals.items()), **ctx)
    if m.outputs:
        files["outputs.tf"] = env.get_template("outputs.tf.j2").render(outputs=sorted(m.outputs.items()), **ctx)
    if m.variables:
        files["variables.tf"] = env.get_template("variables.tf.j2").render(variables=sorted(m.variables.items()),
                                                                            **ctx)
    files["providers.tf"] = env.get_template("providers.tf.j2").render(
        providers=providers.all(), org=providers.org, **ctx)
    files["versions.tf"] = env.get_template("versions.tf.j2").render(aliases=providers.aliases(), **ctx)
    return {f"{DIR}/{name}": _tidy(align_equals(text)) for name, text in sorted(files.items())}


def _unique_names(family: list[Resource]) -> None:
    """Distinct slpc names can map to one identifier (`a-b`, `a.b`, `a_b`): those
    resources get a suffix from their artifact path, so names never depend on order."""
    seen: dict[tuple[str, str], list[Resource]] = {}
    for r in family:
        seen.setdefault((r.type, r.name), []).append(r)
    for group in seen.values():
        if len(group) > 1:
            for r in group:
                r.name = f"{r.name}_{hashlib.sha256(r.source.encode()).hexdigest()[:8]}"


# --------------------------------------------------------------------------- #
# Bucket settings: the S3 API input -> the matching aws_s3_bucket_* resource


def _bucket_setting(art, provider: Provider) -> Resource:
    s = art.settings
    bucket = hcl_string(s["Bucket"])
    name = identifier(art.name)
    if art.kind == "s3-bucket-encryption":
        rules = []
        for rule in s["ServerSideEncryptionConfiguration"]["Rules"]:
            default = rule["ApplyServerSideEncryptionByDefault"]
            rules.append({
                "sse_algorithm": hcl_string(default["SSEAlgorithm"]),
                "kms_master_key_id": hcl_string(default["KMSMasterKeyID"]) if "KMSMasterKeyID" in default else None,
                "bucket_key_enabled": hcl_expr(rule["BucketKeyEnabled"]) if "BucketKeyEnabled" in rule else None,
            })
        return Resource("aws_s3_bucket_server_side_encryption_configuration", name, provider,
                        {"bucket": bucket, "rules": rules}, art.path)
    if art.kind == "s3-public-access-block":
        c = s["PublicAccessBlockConfiguration"]
        return Resource("aws_s3_bucket_public_access_block", name, provider, {
            "bucket": bucket,
            "block_public_acls": hcl_expr(c["BlockPublicAcls"]),
            "block_public_policy": hcl_expr(c["BlockPublicPolicy"]),
            "ignore_public_acls": hcl_expr(c["IgnorePublicAcls"]),
            "restrict_public_buckets": hcl_expr(c["RestrictPublicBuckets"]),
        }, art.path)
    if art.kind == "s3-versioning":
        c = s["VersioningConfiguration"]
        return Resource("aws_s3_bucket_versioning", name, provider, {
            "bucket": bucket, "status": hcl_string(c["Status"]),
            "mfa_delete": hcl_string(c["MFADelete"]) if "MFADelete" in c else None,
        }, art.path)
    if art.kind == "s3-ownership-controls":
        return Resource("aws_s3_bucket_ownership_controls", name, provider, {
            "bucket": bucket,
            "rules": [hcl_string(r["ObjectOwnership"]) for r in s["OwnershipControls"]["Rules"]],
        }, art.path)
    if art.kind == "s3-object-lock":
        c = s["ObjectLockConfiguration"]
        retention = c.get("Rule", {}).get("DefaultRetention")
        return Resource("aws_s3_bucket_object_lock_configuration", name, provider, {
            "bucket": bucket,
            "object_lock_enabled": hcl_string(c["ObjectLockEnabled"]),
            "mode": hcl_string(retention["Mode"]) if retention else None,
            "days": hcl_expr(retention["Days"]) if retention and "Days" in retention else None,
            "years": hcl_expr(retention["Years"]) if retention and "Years" in retention else None,
        }, art.path)
    raise TerraformError(f"no Terraform resource for artifact kind `{art.kind}` ({art.path})")

