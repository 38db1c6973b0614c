"""Audit and detection settings: CloudTrail data events, EventBridge rules, GuardDuty.

Entry point: `audit_artifacts(model) -> (artifacts, diagnostics)`. Every artifact is
a *settings* document (a dict shaped like the input of the AWS API that applies it),
not a policy. What each file holds, how to apply it and the AWS limits it respects
are in docs/audit.md.

Actions come from the verb table's families (compiler/verbs.py); this module only
adds the one fact the table does not hold: which CloudTrail `eventName`s each IAM
action authorises (`EVENT_NAMES`).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Iterable

from slpc.compiler.model import Asset, Model
from slpc.compiler.verbs import (
    BUCKET, BUCKET_PREFIX, ECR_PERIMETER_ACTIONS, OBJECT,
    S3_BREAKGLASS_ACTIONS, S3_BUCKET_DATA_ACTIONS, S3_OBJECT_DATA_ACTIONS, S3_PERIMETER_ACTIONS,
    VERBS,
)
from slpc.diagnostics import Diagnostic, error
from .artifact import Artifact


DATA_EVENTS = "data_events"

# --------------------------------------------------------------------------- #
# AWS facts (docs/audit.md cites each)

# CloudTrail PutEventSelectors / "Quotas in AWS CloudTrail": a trail with advanced
# event selectors takes at most 500 values over all conditions of all its selectors
# (every string in every Equals/StartsWith/... list counts once) and at most 5
# selectors. The 250-data-resource quota is that of *basic* event selectors'
# DataResources, which slpc never writes.
CLOUDTRAIL_MAX_VALUES = 500
CLOUDTRAIL_MAX_SELECTORS = 5
CLOUDTRAIL_OPERATORS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")
S3_OBJECT_TYPE = "AWS::S3::Object"

# EventBridge PutRule: Name 1-64 characters of [.-_A-Za-z0-9]; EventPattern (a JSON
# string) at most 4,096 characters; Description at most 512.
RULE_NAME_MAX = 64
RULE_PATTERN_MAX = 4096
RULE_DESCRIPTION_MAX = 512
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"

# CloudTrail "Logging network activity events": the services whose VPC endpoints record
# network activity events, by the spec's endpoint service names -- of the documented list
# (CloudTrail, EC2, KMS, Secrets Manager), the one a spec's network declares. A request an
# endpoint policy denies is recorded with errorCode VpceAccessDenied, the only errorCode a
# selector takes; EventBridge receives it as NETWORK_DETAIL_TYPE ("AWS service events
# delivered via AWS CloudTrail"). The events go to the endpoint owner's account.
NETWORK_ACTIVITY_SOURCES = {"kms": "kms"}  # spec service -> event source prefix (`kms.amazonaws.com`)
VPCE_DENIED = "VpceAccessDenied"
NETWORK_DETAIL_TYPE = "AWS Network Activity Event via CloudTrail"

# The CloudTrail eventName(s) of the requests each IAM action authorises. Keys are
# exactly the actions of the verb table's families used below (tests/test_audit.py
# checks it); an action whose event carries its own name maps to itself. The names
# are those of the S3 User Guide's list of object-level actions logged as data events
# ("Amazon S3 CloudTrail events"), HeadBucket among them (it needs s3:ListBucket).
EVENT_NAMES: dict[str, tuple[str, ...]] = {
    # object data (S3_OBJECT_DATA_ACTIONS, S3_BUCKET_DATA_ACTIONS)
    "s3:GetObject": ("GetObject", "HeadObject", "SelectObjectContent"),
    "s3:GetObjectVersion": ("GetObject", "HeadObject"),  # a versionId request parameter
    "s3:GetObjectTorrent": ("GetObjectTorrent",),
    "s3:GetObjectVersionTorrent": ("GetObjectTorrent",),
    "s3:GetObjectAttributes": ("GetObjectAttributes",),
    "s3:GetObjectVersionAttributes": ("GetObjectAttributes",),
    "s3:RestoreObject": ("RestoreObject",),
    "s3:PutObject": ("PutObject", "PostObject", "CopyObject", "CreateMultipartUpload", "UploadPart",
                     "UploadPartCopy", "CompleteMultipartUpload"),
    "s3:AbortMultipartUpload": ("AbortMultipartUpload",),
    "s3:ListMultipartUploadParts": ("ListParts",),
    "s3:DeleteObject": ("DeleteObject", "DeleteObjects"),
    "s3:DeleteObjectVersion": ("DeleteObject", "DeleteObjects"),  # with a versionId
    "s3:ListBucket": ("ListObjects", "ListObjectsV2", "HeadBucket"),
    "s3:ListBucketVersions": ("ListObjectVersions",),
    "s3:ListBucketMultipartUploads": ("ListMultipartUploads",),
    # bucket perimeter (S3_PERIMETER_ACTIONS): a put and, where S3 has one, its delete
    "s3:PutBucketPolicy": ("PutBucketPolicy",),
    "s3:DeleteBucketPolicy": ("DeleteBucketPolicy",),
    "s3:PutBucketAcl": ("PutBucketAcl",),
    "s3:PutObjectAcl": ("PutObjectAcl",),
    "s3:PutObjectVersionAcl": ("PutObjectAcl",),
    "s3:PutReplicationConfiguration": ("PutBucketReplication", "DeleteBucketReplication"),
    "s3:PutBucketPublicAccessBlock": ("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),
    "s3:PutEncryptionConfiguration": ("PutBucketEncryption", "DeleteBucketEncryption"),
    "s3:PutBucketObjectLockConfiguration": ("PutObjectLockConfiguration",),
    "s3:PutBucketVersioning": ("PutBucketVersioning",),
    "s3:PutBucketOwnershipControls": ("PutBucketOwnershipControls", "DeleteBucketOwnershipControls"),
    "s3:PutLifecycleConfiguration": ("PutBucketLifecycle", "DeleteBucketLifecycle"),
    "s3:DeleteBucket": ("DeleteBucket",),
    # breakglass (S3_BREAKGLASS_ACTIONS): a permission on DeleteObject, no event of its own
    "s3:BypassGovernanceRetention": ("DeleteObject", "DeleteObjects"),
}

# Key-policy changes, disabling and deletion: the perimeter subset of the admin family.
KMS_PERIMETER_ACTIONS = ("kms:PutKeyPolicy", "kms:DisableKey", "kms:ScheduleKeyDeletion")
# A VPC endpoint's policy is changed (or removed) by ModifyVpcEndpoint.
EC2_ENDPOINT_EVENTS = ("ModifyVpcEndpoint", "DeleteVpcEndpoints")

DATA_ACTIONS = S3_OBJECT_DATA_ACTIONS + S3_BUCKET_DATA_ACTIONS


def event_names(actions: Iterable[str]) -> tuple[str, ...]:
    """CloudTrail event names of these IAM actions, sorted and unique. Actions of
    services whose events carry the action's name (ECR, KMS) map to that name."""
    out: set[str] = set()
    for a in actions:
        out.update(EVENT_NAMES.get(a, (a.split(":", 1)[1],)) if a.startswith("s3:") else (a.split(":", 1)[1],))
    return tuple(sorted(out))


def data_event_names() -> tuple[str, ...]:
    return event_names(DATA_ACTIONS)


# --------------------------------------------------------------------------- #
# Names


_RULE_CHARS = re.compile(r"[^.\-_A-Za-z0-9]+")


def rule_name(*parts: str) -> str:
    """An EventBridge rule name: `slpc-<parts>`, invalid characters replaced by `-`;
    over 64 characters, cut and suffixed with a hash of the full name (stays unique)."""
    full = _RULE_CHARS.sub("-", "-".join(("slpc",) + parts)).strip("-")
    if len(full) <= RULE_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return full[: RULE_NAME_MAX - 9].rstrip("-") + "-" + digest


def rule_arn(model: Model, region: str, name: str) -> str:
    d = model.deployment
    return f"arn:{d.partition}:events:{region}:{d.account}:rule/{name}"


def audited_buckets(model: Model) -> list[Asset]:
    """Buckets with `audit data_events`, sorted by declared name."""
    return sorted((a for a in model.assets_of("bucket") if DATA_EVENTS in a.audit), key=lambda a: a.name)


# --------------------------------------------------------------------------- #
# CloudTrail


def count_values(selectors: list[dict]) -> int:
    """Values as CloudTrail counts them against its per-trail quota: every string of
    every operator list of every field selector of every selector."""
    return sum(len(fs.get(op, ())) for sel in selectors for fs in sel["FieldSelectors"] for op in CLOUDTRAIL_OPERATORS)


def event_selectors(model: Model) -> tuple[list[dict], list[Diagnostic]]:
    """PutEventSelectors' AdvancedEventSelectors: management events (so the trail keeps
    logging them: the call replaces every selector) and S3 data events on the objects
    of every audited bucket.

    All buckets share one data selector: the quota counts values per trail, and each
    extra selector would cost two more (its eventCategory and resources.type)."""
    dep = model.deployment
    prefixes = sorted(a.object_arn_prefix for a in audited_buckets(model))
    selectors: list[dict] = [{
        "Name": f"slpc {dep.name}: management events",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }]
    if prefixes:
        selectors.append({
            "Name": f"slpc {dep.name}: S3 data events on audited model buckets",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": [S3_OBJECT_TYPE]},
                {"Field": "resources.ARN", "StartsWith": prefixes},
            ],
        })
    for service, ids in network_activity(model).items():
        selectors.append({
            "Name": f"slpc {dep.name}: requests the {service} endpoint policies deny",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "Equals": [f"{NETWORK_ACTIVITY_SOURCES[service]}.amazonaws.com"]},
                {"Field": "errorCode", "Equals": [VPCE_DENIED]},
                {"Field": "vpcEndpointId", "Equals": list(ids)},
            ],
        })
    diags = []
    values = count_values(selectors)
    if values > CLOUDTRAIL_MAX_VALUES or len(selectors) > CLOUDTRAIL_MAX_SELECTORS:
        diags.append(error(
            "E541",
            f"{len(prefixes)} buckets with `audit data_events` need {values} CloudTrail selector values "
            f"({len(prefixes)} bucket prefixes), over AWS's limit of {CLOUDTRAIL_MAX_VALUES} values per trail",
            None,
            f"audit at most {CLOUDTRAIL_MAX_VALUES - values + len(prefixes)} buckets per deployment, or split "
            "the deployment over several specs (each with its own trail)"))
    return selectors, diags


def network_activity(model: Model) -> dict[str, tuple[str, ...]]:
    """service -> the deployment account's VPC endpoints of it whose denials CloudTrail can
    record (NETWORK_ACTIVITY_SOURCES), for the services that have such endpoints."""
    dep = model.deployment
    out: dict[str, set[str]] = {}
    for n in model.networks.values():
        if n.account == dep.account:
            for service, vid in n.endpoints:
                if service in NETWORK_ACTIVITY_SOURCES:
                    out.setdefault(service, set()).add(vid)
    return {s: tuple(sorted(ids)) for s, ids in sorted(out.items())}


# --------------------------------------------------------------------------- #
# EventBridge


def _session_issuer(matcher: dict) -> dict:
    # For an assumed-role session, userIdentity.arn is the STS session ARN
    # (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION); the role itself is
    # userIdentity.sessionContext.sessionIssuer, with its accountId and userName.
    return {"sessionContext": {"sessionIssuer": matcher}}


def _role_name(arn: str) -> tuple[str, str]:
    """(account, role name) of a role ARN. IAM role names are unique within an
    account whatever their path, so the pair names the role exactly in a quarter of
    the ARN's characters."""
    return arn.split(":")[4], arn.rsplit("/", 1)[-1]


def allowed_by_event(model: Model, bucket: Asset) -> dict[str, tuple[str, ...]]:
    """For every data event name: the role ARNs the spec lets cause it on this bucket
    (grantees through their verbs' object and listing actions, breakglass roles
    through theirs). Prefixes, networks and `until` are not considered here."""
    universe = data_event_names()
    allowed: dict[str, set[str]] = {e: set() for e in universe}

    def add(arn: str, actions: Iterable[str]) -> None:
        for e in event_names(a for a in actions if a in DATA_ACTIONS or a in S3_BREAKGLASS_ACTIONS):
            if e in allowed:
                allowed[e].add(arn)

    for g in model.grants_on(bucket.name):
        verb = VERBS[("bucket", g.verb)]
        add(model.principals[g.principal].arn,
            (a for a, scope in verb.actions if scope in (OBJECT, BUCKET_PREFIX, BUCKET)))
    for name in bucket.breakglass:
        add(model.principals[name].arn, S3_BREAKGLASS_ACTIONS)
    return {e: tuple(sorted(arns)) for e, arns in allowed.items()}


def data_access_pattern(model: Model, bucket: Asset) -> dict:
    """Data events on the bucket by anyone the spec does not let cause them.

    Events that the same roles may cause form one group. Per group, `$or` branches
    match a role session whose issuer is none of those roles, named by account and
    role name (unique in an account; a quarter of an ARN's length, which keeps a
    bucket shared by hundreds of roles within PutRule's limit); when no role may
    cause them, any caller matches. Callers without a role session (IAM users, the
    root user, anonymous requests, and -- in the bucket owner's log -- every caller
    from another account, which CloudTrail shows as type `AWSAccount` with no ARN)
    have no sessionIssuer, and `anything-but` never matches a missing field: further
    branches match them with `exists: false`, except callers from the accounts of the
    group's cross-account roles, whom the bucket owner's log cannot tell apart.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for event, arns in allowed_by_event(model, bucket).items():
        groups.setdefault(arns, []).append(event)
    no_session = {"sessionIssuer": {"arn": [{"exists": False}]}}  # `exists` matches leaves only
    branches, plain_no_session = [], []
    for arns, events in sorted(groups.items(), key=lambda kv: sorted(kv[1])):
        events = sorted(events)
        if not arns:
            branches.append({"eventName": events})
            continue
        names: dict[str, list[str]] = {}
        for account, name in sorted(map(_role_name, arns)):
            names.setdefault(account, []).append(name)
        # a session of a role of an account none of whose roles may cause these events ...
        branches.append({"eventName": events,
                         "userIdentity": _session_issuer({"accountId": [{"anything-but": sorted(names)}]})})
        # ... or of an account that has such roles, but not one of them
        branches += [{"eventName": events,
                      "userIdentity": _session_issuer({"accountId": [account],
                                                       "userName": [{"anything-but": listed}]})}
                     for account, listed in names.items()]
        foreign = sorted(set(names) - {bucket.account})
        if not foreign:
            plain_no_session += events
            continue
        branches.append({"eventName": events, "userIdentity": {"sessionContext": no_session,
                                                                "accountId": [{"anything-but": foreign}]}})
        branches.append({"eventName": events, "userIdentity": {"sessionContext": no_session,
                                                                "accountId": [{"exists": False}]}})
    if plain_no_session:
        branches.append({"eventName": sorted(plain_no_session), "userIdentity": {"sessionContext": no_session}})
    return {
        "source": ["aws.s3"],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "requestParameters": {"bucketName": [bucket.resource_name]},
            "$or": branches,
        },
    }


def _rule_settings(name: str, description: str, pattern: dict) -> dict:
    return {"Name": name, "Description": description[:RULE_DESCRIPTION_MAX], "EventPattern": pattern,
            "State": "ENABLED"}


def pattern_length(pattern: dict) -> int:
    """Characters of the EventPattern string PutRule receives (compact JSON)."""
    return len(json.dumps(pattern, separators=(",", ":"), sort_keys=True, ensure_ascii=False))


def _parts(label: str, runs: list[list]):
    """(file label, description suffix, run) of each run of a split rule: `label-1`,
    " (part 1 of 3)", ...; a rule that is not split keeps its label and says nothing."""
    if len(runs) == 1:
        return [(label, "", runs[0])]
    return [(f"{label}-{i}", f" (part {i} of {len(runs)})", run) for i, run in enumerate(runs, 1)]


def _chunks(names: list, make) -> list[list]:
    """Split sorted names (or `$or` branches) into consecutive runs whose pattern
    `make(run)` fits PutRule."""
    runs: list[list[str]] = [[]]
    for n in names:
        if runs[-1] and pattern_length(make(runs[-1] + [n])) > RULE_PATTERN_MAX:
            runs.append([])
        runs[-1].append(n)
    return runs


def perimeter_patterns(model: Model) -> list[tuple[str, str, dict]]:
    """(file label, description, pattern) for each service whose perimeter slpc sets:
    S3 (the deployment's buckets), ECR (its repositories), KMS and EC2 (VPC endpoints)
    -- the last two for every key or endpoint of the account, since their events do
    not name the resource in one reliable field. When the bucket or repository names
    make a pattern longer than PutRule takes, they are split over several rules
    (labels `s3-1`, `s3-2`, ...)."""
    dep = model.deployment
    out = []

    def pattern(service: str, events: tuple[str, ...], extra: dict | None = None) -> dict:
        detail: dict = {"eventSource": [f"{service}.amazonaws.com"], "eventName": list(events)}
        detail.update(extra or {})
        return {"source": [f"aws.{service}"], "detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": detail}

    def scoped(service: str, events: tuple[str, ...], field: str, names: list[str], description: str) -> None:
        if not names:
            return
        make = lambda run: pattern(service, events, {"requestParameters": {field: run}})  # noqa: E731
        for label, part, run in _parts(service, _chunks(names, make)):
            out.append((label, description + part, make(run)))

    scoped("s3", event_names(S3_PERIMETER_ACTIONS), "bucketName",
           sorted(a.resource_name for a in model.assets_of("bucket")),
           f"slpc {dep.name}: perimeter changes to model buckets (policy, ACL, public access block, "
           "encryption, Object Lock, versioning, replication, deletion)")
    scoped("ecr", event_names(ECR_PERIMETER_ACTIONS), "repositoryName",
           sorted(a.resource_name for a in model.assets_of("repository")),
           f"slpc {dep.name}: perimeter changes to model image repositories")
    if model.keys:
        out.append(("kms", f"slpc {dep.name}: KMS key policy changes, key disabling and deletion scheduling "
                           f"in account {dep.account}",
                    pattern("kms", event_names(KMS_PERIMETER_ACTIONS))))
    if any(n.endpoints and n.account == dep.account for n in model.networks.values()):
        out.append(("ec2", f"slpc {dep.name}: VPC endpoint policy changes and deletions in account {dep.account}",
                    pattern("ec2", EC2_ENDPOINT_EVENTS)))
    for service, ids in network_activity(model).items():
        source = NETWORK_ACTIVITY_SOURCES[service]
        out.append((f"vpce-denied-{service}", f"slpc {dep.name}: requests the {service} VPC endpoint policies "
                    "denied (someone tried the model perimeter from inside the network)",
                    {"source": [f"aws.{source}"], "detail-type": [NETWORK_DETAIL_TYPE],
                     "detail": {"eventSource": [f"{source}.amazonaws.com"], "errorCode": [VPCE_DENIED],
                                "vpcEndpointId": list(ids)}}))
    return out


# --------------------------------------------------------------------------- #
# Entry point


def audit_artifacts(model: Model) -> tuple[list[Artifact], list[Diagnostic]]:
    """Audit and detection artifacts of a deployment, sorted by path, with any
    diagnostics (E541 CloudTrail quota, E542 EventBridge rule over PutRule's limit).

    CloudTrail selectors and EventBridge rules exist only when some bucket has
    `audit data_events`; GuardDuty S3 protection is written whenever the deployment
    has a bucket (one file per allowed region)."""
    dep = model.deployment
    arts: list[Artifact] = []
    diags: list[Diagnostic] = []
    audited = audited_buckets(model)
    if audited:
        selectors, more = event_selectors(model)
        diags += more
        arts.append(Artifact("cloudtrail-event-selectors", "trail", dep.account,
                             "audit/cloudtrail-event-selectors.json", dep.name,
                             settings={"AdvancedEventSelectors": selectors}))
        for b in audited:
            region = b.region or dep.regions[0]
            whole = data_access_pattern(model, b)
            make = lambda run: whole | {"detail": whole["detail"] | {"$or": run}}  # noqa: E731
            # the rules of a bucket together match what its one pattern would: a union of branches
            runs = [whole["detail"]["$or"]] if pattern_length(whole) <= RULE_PATTERN_MAX \
                else _chunks(whole["detail"]["$or"], make)
            for label, part, run in _parts(b.name, runs):
                name = rule_name(dep.name, "data", label)
                settings = _rule_settings(
                    name, f"slpc {dep.name}: data access to bucket {b.resource_name} by a principal the spec "
                          f"does not let cause the event{part}", make(run))
                arts.append(Artifact("eventbridge-rule", rule_arn(model, region, name), dep.account,
                                     f"audit/eventbridge-data-{label}.json", b.name, settings=settings))
        for region in sorted(dep.regions):
            for label, description, pattern in perimeter_patterns(model):
                name = rule_name(dep.name, "perimeter", label, region)
                arts.append(Artifact("eventbridge-rule", rule_arn(model, region, name), dep.account,
                                     f"audit/eventbridge-perimeter-{label}-{region}.json", dep.name,
                                     settings=_rule_settings(name, description, pattern)))
    if model.assets_of("bucket"):
        for region in sorted(dep.regions):
            arts.append(Artifact("guardduty-feature", region, dep.account, f"audit/guardduty-{region}.json",
                                 dep.name, settings={"Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}]}))
    for art in arts:
        if art.kind == "eventbridge-rule":
            size = pattern_length(art.settings["EventPattern"])
            if size > RULE_PATTERN_MAX:
                diags.append(error(
                    "E542", f"the EventBridge pattern of {art.path} is {size:,} characters, over PutRule's limit "
                            f"of {RULE_PATTERN_MAX:,}", None,
                    "a rule is split by `$or` branch, and one branch lists every role of one account that may "
                    "cause the same events on this bucket: split those grants over more buckets"))
    return sorted(arts, key=lambda a: a.path), diags
