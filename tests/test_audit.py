"""Audit and detection artifacts (targets/detection.py, docs/audit.md).

Specs go through the real pipeline; `audit_artifacts` is called on the checked
Model. EventBridge patterns are checked with a small matcher kept in this file
(exact values, nested objects, arrays in the event, `anything-but`, `exists`,
`$or`), cross-checked with moto's implementation when moto is installed, and every
settings document is validated against the AWS API's input shape when botocore is.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slpc.compiler import verbs
from slpc.app.pipeline import compile_text
from slpc.targets import detection as audit
from slpc.targets.detection import audit_artifacts

from strategies import PROPERTY

ACCT = "111122223333"
OTHER = "444455556666"
THIRD = "777788889999"

HEADER = f"""
deployment "acme-llm" {{
  partition "aws"
  account   "{ACCT}"
  regions   ["eu-central-1"]
}}
network prod_vpc {{
  vpc "vpc-0a1b2c3d4e5f67890"
  region "eu-central-1"
  endpoint s3 "vpce-01a2b3c4d5e6f7a80"
}}
role security_admin "arn:aws:iam::{ACCT}:role/security-admin"
key model_key {{
  arn    "arn:aws:kms:eu-central-1:{ACCT}:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [security_admin]
}}
"""


def model_of(text: str):
    compiled = compile_text(text, emit=False)
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    return compiled.model


def buckets_spec(names: list[str], audited: set[str]) -> str:
    out = [HEADER]
    for n in names:
        out.append(f'bucket b_{n.replace("-", "_")} {{\n  name "{n}"\n  encrypt model_key\n'
                   + ('  audit data_events\n' if n in audited else '') + '  admins [security_admin]\n}\n')
    return "\n".join(out)


@pytest.fixture
def example(example_text):
    return model_of(example_text)


def by_path(arts):
    return {a.path: a for a in arts}


# --------------------------------------------------------------------------- #
# A tiny EventBridge pattern matcher (the subset slpc emits)

_MISSING = object()


def _leaf_matches(matcher, value) -> bool:
    if isinstance(matcher, dict):
        (op, arg), = matcher.items()
        if op == "exists":
            return (value is not _MISSING) == arg
        if value is _MISSING:
            return False  # every other operator needs the field
        if op == "anything-but":
            return value not in (arg if isinstance(arg, list) else [arg])
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        raise NotImplementedError(op)
    return value is not _MISSING and value == matcher


def _values(event, path: list[str]) -> list:
    """Values at a dotted path; arrays (of values or objects) fan out, as EventBridge does."""
    nodes = [event]
    for key in path:
        nxt = []
        for n in nodes:
            items = n if isinstance(n, list) else [n]
            for item in items:
                if isinstance(item, dict) and key in item:
                    nxt.append(item[key])
        nodes = nxt
    out = []
    for n in nodes:
        out.extend(n if isinstance(n, list) else [n])
    return out


def matches(pattern: dict, event: dict, path: tuple[str, ...] = ()) -> bool:
    for key, sub in pattern.items():
        if key == "$or":
            if not any(matches(branch, event, path) for branch in sub):
                return False
        elif isinstance(sub, dict):
            if not matches(sub, event, path + (key,)):
                return False
        else:
            values = _values(event, list(path + (key,))) or [_MISSING]
            if not any(_leaf_matches(m, v) for m in sub for v in values):
                return False
    return True


def test_matcher_basics():
    p = {"a": ["x"], "b": {"c": [{"anything-but": ["y"]}]}, "$or": [{"d": ["1"]}, {"e": [{"exists": False}]}]}
    assert matches(p, {"a": "x", "b": {"c": "z"}, "d": "1"})
    assert matches(p, {"a": "x", "b": {"c": "z"}})  # e missing
    assert not matches(p, {"a": "x", "b": {"c": "y"}})
    assert not matches(p, {"a": "x", "b": {}})  # anything-but needs the field
    assert not matches(p, {"a": "x", "b": {"c": "z"}, "e": "1"})
    assert matches({"r": {"ARN": ["k"]}}, {"r": [{"ARN": "j"}, {"ARN": "k"}]})


# --------------------------------------------------------------------------- #
# Synthetic CloudTrail events, as EventBridge delivers them


def role_session(arn: str) -> dict:
    account, name = arn.split(":")[4], arn.split("/")[-1]
    return {"type": "AssumedRole", "principalId": "AROAEXAMPLE:session",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/session", "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": arn,
                                                 "accountId": account, "userName": name},
                               "attributes": {"mfaAuthenticated": "false"}}}


def foreign_account(account: str) -> dict:
    """A cross-account caller as the bucket owner's log shows it: no ARN, no session."""
    return {"type": "AWSAccount", "principalId": "AROAEXAMPLE:session", "accountId": account}


IAM_USER = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{ACCT}:user/alice",
            "accountId": ACCT, "userName": "alice"}
ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
ANONYMOUS_NO_ACCOUNT = {"type": "AnonymousPrincipal", "principalId": ""}


def s3_event(event_name: str, bucket: str, identity: dict) -> dict:
    return {"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
            "account": ACCT, "region": "eu-central-1", "resources": [],
            "detail": {"eventVersion": "1.09", "userIdentity": identity, "eventSource": "s3.amazonaws.com",
                       "eventName": event_name, "awsRegion": "eu-central-1", "eventCategory": "Data",
                       "requestParameters": {"bucketName": bucket, "key": "released/model.bin"},
                       "resources": [{"type": "AWS::S3::Object",
                                      "ARN": f"arn:aws:s3:::{bucket}/released/model.bin"}]}}


def role(name: str, account: str = ACCT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


WEIGHTS = "acme-llm-weights"
# (event name, caller, expected: does the weights bucket's rule fire?)
CASES = [
    ("GetObject", role_session(role("intruder")), True),
    ("GetObject", role_session(role("llm-inference")), False),
    ("HeadObject", role_session(role("llm-inference")), False),
    ("GetObject", role_session(role("model-evaluator", OTHER)), False),  # its own account's log
    ("GetObject", foreign_account(OTHER), False),  # evaluator, as the bucket owner sees it
    ("GetObject", foreign_account(THIRD), True),
    ("PutObject", role_session(role("llm-inference")), True),  # a reader writing
    ("PutObject", role_session(role("llm-trainer")), False),
    ("UploadPart", role_session(role("llm-trainer")), False),
    ("GetObject", role_session(role("llm-trainer")), True),  # the trainer only writes weights
    ("DeleteObject", role_session(role("security-breakglass")), False),
    ("GetObject", role_session(role("security-breakglass")), True),  # breakglass never reads
    ("DeleteObject", role_session(role("llm-trainer")), True),
    ("GetObject", role_session(role("security-admin")), True),  # admins never touch data
    ("GetObject", IAM_USER, True),
    ("GetObject", ANONYMOUS, True),
    ("GetObject", ANONYMOUS_NO_ACCOUNT, True),
    ("RestoreObject", role_session(role("llm-inference")), True),  # nobody may restore
    ("GetBucketPolicy", role_session(role("intruder")), False),  # not a data event
    ("HeadBucket", role_session(role("intruder")), True),  # needs s3:ListBucket
]


@pytest.mark.parametrize("event_name,identity,fires", CASES)
def test_data_rule_fires_exactly_for_outsiders(example, event_name, identity, fires):
    arts = by_path(audit_artifacts(example)[0])
    pattern = arts["audit/eventbridge-data-weights.json"].settings["EventPattern"]
    assert matches(pattern, s3_event(event_name, WEIGHTS, identity)) is fires
    # never for another bucket
    assert not matches(pattern, s3_event(event_name, "acme-llm-finetune", identity))


def test_data_rule_agrees_with_moto(example):
    models = pytest.importorskip("moto.events.models")
    arts = by_path(audit_artifacts(example)[0])
    pattern = arts["audit/eventbridge-data-weights.json"].settings["EventPattern"]
    moto_pattern = models.EventPattern.load(json.dumps(pattern))
    for event_name, identity, fires in CASES:
        event = s3_event(event_name, WEIGHTS, identity)
        assert moto_pattern.matches_event(event) is fires, (event_name, identity)


def test_data_rule_matches_the_role_not_the_session_arn(example):
    arts = by_path(audit_artifacts(example)[0])
    detail = arts["audit/eventbridge-data-weights.json"].settings["EventPattern"]["detail"]
    text = json.dumps(detail)
    assert "arn:aws:sts::" not in text
    issuers = [b["userIdentity"]["sessionContext"]["sessionIssuer"]
               for b in detail["$or"] if "userIdentity" in b and "sessionIssuer" in b["userIdentity"].get(
                   "sessionContext", {}) and "userName" in b["userIdentity"]["sessionContext"]["sessionIssuer"]]
    allowed = {f"arn:aws:iam::{i['accountId'][0]}:role/{name}" for i in issuers
               for name in i["userName"][0]["anything-but"]}
    assert allowed == {role("llm-inference"), role("model-evaluator", OTHER), role("llm-trainer"),
                       role("security-breakglass")}


ROLE_NAMES = ("reader", "writer", "reader-2")


@PROPERTY
@pytest.mark.property
@given(paths=st.fixed_dictionaries({(a, n): st.sampled_from(["", "team/", "team/ml/"])
                                    for a in (ACCT, OTHER) for n in ROLE_NAMES}),
       grants=st.sets(st.tuples(st.sampled_from([(a, n) for a in (ACCT, OTHER) for n in ROLE_NAMES]),
                                st.sampled_from(["read", "write", "delete"])), max_size=6),
       breakglass=st.sets(st.sampled_from([(ACCT, n) for n in ROLE_NAMES]), max_size=2))
def test_property_data_rule_fires_exactly_for_roles_without_the_event(paths, grants, breakglass):
    """Whatever the roles' accounts and paths, the data rule fires for a role session
    exactly when that role (by ARN) may not cause the event. Role names are unique
    in an account, so each (account, name) has one path here, as in IAM."""
    arn = {k: f"arn:aws:iam::{k[0]}:role/{path}{k[1]}" for k, path in paths.items()}
    local = lambda k: f"r_{k[0][:3]}_{k[1].replace('-', '_')}"  # noqa: E731
    text = [HEADER] + [f'role {local(k)} "{a}"' for k, a in arn.items()]
    text.append('bucket weights {\n  name "acme-llm-weights"\n  encrypt model_key\n  audit data_events\n'
                '  admins [security_admin]\n'
                + (f"  breakglass [{', '.join(sorted(map(local, breakglass)))}]\n" if breakglass else "") + "}")
    text += [f'allow {local(k)} {verb} weights "p/" from prod_vpc' for k, verb in sorted(grants)]
    model = model_of("\n".join(text))
    bucket = model.assets["weights"]
    allowed = audit.allowed_by_event(model, bucket)
    pattern = audit.data_access_pattern(model, bucket)
    for event, arns in allowed.items():
        for k, a in arn.items():
            fires = matches(pattern, s3_event(event, WEIGHTS, role_session(a)))
            assert fires is (a not in arns), (event, a)


def test_data_rule_split_by_branch_when_too_long():
    """Readers and writers of 60 teams each fit one branch; together they do not fit
    one rule. The parts' branches are exactly the whole pattern's, each part fits,
    and some part fires exactly when the whole pattern would."""
    readers = [f"arn:aws:iam::{ACCT}:role/ml/team-{i:03d}-model-reader" for i in range(60)]
    writers = [f"arn:aws:iam::{ACCT}:role/ml/team-{i:03d}-model-writer" for i in range(60)]
    text = [HEADER] + [f'role r{i} "{a}"' for i, a in enumerate(readers + writers)]
    text.append('bucket weights {\n  name "acme-llm-weights"\n  encrypt model_key\n  audit data_events\n'
                '  admins [security_admin]\n}')
    text += [f'allow r{i} {"read" if i < 60 else "write"} weights "t{i}/" from prod_vpc' for i in range(120)]
    model = model_of("\n".join(text))
    whole = audit.data_access_pattern(model, model.assets["weights"])
    assert audit.pattern_length(whole) > audit.RULE_PATTERN_MAX
    arts, diags = audit_artifacts(model)
    assert diags == []
    parts = [a for a in arts if a.path.startswith("audit/eventbridge-data-weights-")]
    assert len(parts) > 1 and not any(a.path == "audit/eventbridge-data-weights.json" for a in arts)
    branches = [b for a in parts for b in a.settings["EventPattern"]["detail"]["$or"]]
    assert branches == whole["detail"]["$or"]
    assert all(audit.pattern_length(a.settings["EventPattern"]) <= audit.RULE_PATTERN_MAX for a in parts)
    assert len({a.settings["Name"] for a in parts}) == len(parts)
    for arn in readers[:2] + writers[:2] + [role("intruder"), role("team-000-model-reader", OTHER)]:
        for event in ("GetObject", "PutObject", "DeleteObject"):
            e = s3_event(event, WEIGHTS, role_session(arn))
            assert any(matches(a.settings["EventPattern"], e) for a in parts) is matches(whole, e)
            assert matches(whole, e) is not ((event == "GetObject" and arn in readers)
                                             or (event == "PutObject" and arn in writers))


def test_data_rule_shape(example):
    arts = by_path(audit_artifacts(example)[0])
    art = arts["audit/eventbridge-data-weights.json"]
    assert art.kind == "eventbridge-rule" and art.name == "weights" and art.account == ACCT
    assert art.target == f"arn:aws:events:eu-central-1:{ACCT}:rule/slpc-acme-llm-data-weights"
    s = art.settings
    assert set(s) == {"Name", "Description", "EventPattern", "State"} and s["State"] == "ENABLED"
    assert isinstance(s["EventPattern"], dict)
    p = s["EventPattern"]
    assert p["source"] == ["aws.s3"] and p["detail-type"] == ["AWS API Call via CloudTrail"]
    assert p["detail"]["eventSource"] == ["s3.amazonaws.com"]
    assert p["detail"]["requestParameters"] == {"bucketName": [WEIGHTS]}
    names = {n for b in p["detail"]["$or"] for n in b["eventName"]}
    assert names == set(audit.data_event_names())
    assert {"GetObject", "PutObject", "DeleteObject", "ListObjectsV2"} <= names


def test_event_names_derive_from_the_verb_table():
    families = (verbs.S3_OBJECT_DATA_ACTIONS + verbs.S3_BUCKET_DATA_ACTIONS + verbs.S3_PERIMETER_ACTIONS
                + verbs.S3_BREAKGLASS_ACTIONS)
    assert set(audit.EVENT_NAMES) == set(families)
    assert set(audit.KMS_PERIMETER_ACTIONS) <= set(verbs.KMS_ADMIN_ACTIONS)
    # every S3 action a bucket verb grants on data has its event
    for (kind, _), verb in verbs.VERBS.items():
        if kind == "bucket":
            for action, scope in verb.actions:
                if scope in (verbs.OBJECT, verbs.BUCKET_PREFIX):
                    assert action in audit.EVENT_NAMES


# --------------------------------------------------------------------------- #
# Perimeter rules


def test_perimeter_rules(example):
    arts = by_path(audit_artifacts(example)[0])
    s3 = arts["audit/eventbridge-perimeter-s3-eu-central-1.json"].settings["EventPattern"]
    assert s3["detail"]["requestParameters"] == {"bucketName": ["acme-llm-finetune", WEIGHTS]}
    assert {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
            "PutBucketEncryption", "DeleteBucketEncryption", "PutObjectLockConfiguration"} <= set(s3["detail"]["eventName"])
    kms = arts["audit/eventbridge-perimeter-kms-eu-central-1.json"].settings["EventPattern"]
    assert kms["source"] == ["aws.kms"] and kms["detail"]["eventSource"] == ["kms.amazonaws.com"]
    assert kms["detail"]["eventName"] == ["DisableKey", "PutKeyPolicy", "ScheduleKeyDeletion"]
    ecr = arts["audit/eventbridge-perimeter-ecr-eu-central-1.json"].settings["EventPattern"]
    assert {"SetRepositoryPolicy", "DeleteRepositoryPolicy"} <= set(ecr["detail"]["eventName"])
    assert ecr["detail"]["requestParameters"] == {"repositoryName": ["llm-serving"]}
    ec2 = arts["audit/eventbridge-perimeter-ec2-eu-central-1.json"].settings["EventPattern"]
    assert ec2["source"] == ["aws.ec2"] and "ModifyVpcEndpoint" in ec2["detail"]["eventName"]

    change = s3_event("PutBucketPolicy", WEIGHTS, role_session(role("security-admin")))
    change["detail"]["eventCategory"] = "Management"
    assert matches(s3, change)
    assert not matches(s3, s3_event("PutBucketPolicy", "someone-else", IAM_USER))
    assert not matches(s3, s3_event("GetObject", WEIGHTS, IAM_USER))


# --------------------------------------------------------------------------- #
# CloudTrail selectors


def test_selectors_exact_fields(example):
    arts = by_path(audit_artifacts(example)[0])
    art = arts["audit/cloudtrail-event-selectors.json"]
    assert (art.kind, art.target, art.account, art.name) == ("cloudtrail-event-selectors", "trail", ACCT, "acme-llm")
    mgmt, data, denied = art.settings["AdvancedEventSelectors"]
    assert mgmt["FieldSelectors"] == [{"Field": "eventCategory", "Equals": ["Management"]}]
    assert data["FieldSelectors"] == [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::acme-llm-finetune/", "arn:aws:s3:::acme-llm-weights/"]},
    ]
    assert denied["FieldSelectors"] == [
        {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
        {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
        {"Field": "errorCode", "Equals": ["VpceAccessDenied"]},
        {"Field": "vpcEndpointId", "Equals": ["vpce-01a2b3c4d5e6f7a83"]},  # prod_vpc's; eval_vpc's is another account's
    ]
    assert audit.count_values(art.settings["AdvancedEventSelectors"]) == 9


def _numbered(n: int) -> list[str]:
    return [f"model-bucket-{i:04d}" for i in range(n)]


# management (1 value) + data selector's eventCategory and resources.type (2) + one
# prefix per bucket: 497 audited buckets are the most one trail takes
MOST_AUDITED = audit.CLOUDTRAIL_MAX_VALUES - 3


def test_selector_limits_fit_at_the_edge():
    names = _numbered(MOST_AUDITED)
    arts, diags = audit_artifacts(model_of(buckets_spec(names, set(names))))
    assert diags == []
    selectors = by_path(arts)["audit/cloudtrail-event-selectors.json"].settings["AdvancedEventSelectors"]
    assert audit.count_values(selectors) <= audit.CLOUDTRAIL_MAX_VALUES
    assert len(selectors) <= audit.CLOUDTRAIL_MAX_SELECTORS
    starts = [v for s in selectors for fs in s["FieldSelectors"] for v in fs.get("StartsWith", ())]
    assert sorted(starts) == sorted(f"arn:aws:s3:::{n}/" for n in names)


def test_perimeter_rule_split_when_too_long():
    names = _numbered(250)
    arts, _ = audit_artifacts(model_of(buckets_spec(names, set(names[:1]))))
    parts = [a for a in arts if a.path.startswith("audit/eventbridge-perimeter-s3-")]
    assert len(parts) > 1
    covered = []
    for a in parts:
        assert audit.pattern_length(a.settings["EventPattern"]) <= audit.RULE_PATTERN_MAX
        covered += a.settings["EventPattern"]["detail"]["requestParameters"]["bucketName"]
    assert sorted(covered) == sorted(names)  # each bucket in exactly one rule
    assert len({a.settings["Name"] for a in parts}) == len(parts)


def test_selector_limits_refused_beyond():
    names = _numbered(MOST_AUDITED + 1)
    _, diags = audit_artifacts(model_of(buckets_spec(names, set(names))))
    diags = diags
    assert [d.code for d in diags] == ["E541"] and diags[0].is_error
    assert "498 buckets" in diags[0].message and "at most 497 buckets" in diags[0].hint


def test_value_count_counts_every_operator_value():
    sel = [{"Name": "x", "FieldSelectors": [{"Field": "a", "Equals": ["1", "2"], "NotStartsWith": ["3"]},
                                            {"Field": "b", "EndsWith": ["4"]}]}]
    assert audit.count_values(sel) == 4


@PROPERTY
@pytest.mark.property
@given(st.lists(st.tuples(st.sampled_from(["m", "mo", "mod", "model", "model-a", "model-ab", "data", "data-1"]),
                          st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_property_each_audited_bucket_covered_exactly_once(buckets):
    names = [f"acme-{n}" for n, _ in buckets]
    audited = {f"acme-{n}" for n, a in buckets if a}
    arts, diags = audit_artifacts(model_of(buckets_spec(names, audited)))
    assert diags == []
    paths = by_path(arts)
    if not audited:
        assert "audit/cloudtrail-event-selectors.json" not in paths
        assert not any(a.kind == "eventbridge-rule" for a in arts)
        return
    selectors = paths["audit/cloudtrail-event-selectors.json"].settings["AdvancedEventSelectors"]
    values = [v for s in selectors for fs in s["FieldSelectors"] if fs["Field"] == "resources.ARN"
              for v in fs["StartsWith"]]
    for n in names:
        obj = f"arn:aws:s3:::{n}/some/key"
        covering = [v for v in values if obj.startswith(v)]
        assert len(covering) == (1 if n in audited else 0), (n, covering)
    for s in selectors:  # data selectors always carry both required fields
        fields = [fs["Field"] for fs in s["FieldSelectors"]]
        if "resources.ARN" in fields:
            assert fields[:2] == ["eventCategory", "resources.type"]


# --------------------------------------------------------------------------- #
# GuardDuty, gating, names, determinism, API shapes


def test_guardduty_per_region_even_without_audit():
    spec = buckets_spec(["acme-plain"], set()).replace('["eu-central-1"]', '["eu-central-1", "eu-west-1"]')
    arts, diags = audit_artifacts(model_of(spec))
    assert diags == []
    assert [a.path for a in arts] == ["audit/guardduty-eu-central-1.json", "audit/guardduty-eu-west-1.json"]
    for a in arts:
        assert a.kind == "guardduty-feature"
        assert a.settings == {"Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}]}


def test_no_buckets_no_audit_artifacts():
    assert audit_artifacts(model_of(HEADER)) == ([], [])


def test_example_artifact_list(example):
    arts, diags = audit_artifacts(example)
    assert diags == []
    assert [(a.kind, a.path) for a in arts] == [
        ("cloudtrail-event-selectors", "audit/cloudtrail-event-selectors.json"),
        ("eventbridge-rule", "audit/eventbridge-data-finetune_data.json"),
        ("eventbridge-rule", "audit/eventbridge-data-weights.json"),
        ("eventbridge-rule", "audit/eventbridge-perimeter-ec2-eu-central-1.json"),
        ("eventbridge-rule", "audit/eventbridge-perimeter-ecr-eu-central-1.json"),
        ("eventbridge-rule", "audit/eventbridge-perimeter-kms-eu-central-1.json"),
        ("eventbridge-rule", "audit/eventbridge-perimeter-s3-eu-central-1.json"),
        ("eventbridge-rule", "audit/eventbridge-perimeter-vpce-denied-kms-eu-central-1.json"),
        ("guardduty-feature", "audit/guardduty-eu-central-1.json"),
    ]
    assert all(a.document is None and a.settings is not None for a in arts)


def test_deterministic(example_text):
    one = [(a.path, a.text) for a in audit_artifacts(model_of(example_text))[0]]
    two = [(a.path, a.text) for a in audit_artifacts(model_of(example_text))[0]]
    assert one == two
    for _, text in one:
        assert text.endswith("\n") and json.loads(text) is not None


def test_rule_names_fit_putrule():
    long = "x" * 70
    a, b = audit.rule_name(long, "data", "one"), audit.rule_name(long, "data", "two")
    assert a != b and len(a) <= 64 and len(b) <= 64
    assert audit.rule_name("acme llm", "data", "w") == "slpc-acme-llm-data-w"


def test_pattern_over_putrule_limit_is_an_error():
    roles = "\n".join(f'role r{i} "arn:aws:iam::{ACCT}:role/reader-with-a-rather-long-role-name-{i:03d}"'
                      for i in range(90))
    grants = "\n".join(f"allow r{i} read big from prod_vpc" for i in range(90))
    spec = HEADER + roles + '\nbucket big {\n name "acme-big"\n encrypt model_key\n audit data_events\n' \
        ' admins [security_admin]\n}\n' + grants + "\n"
    _, diags = audit_artifacts(model_of(spec))
    assert [d.code for d in diags] == ["E542"]


def test_settings_validate_against_aws_api_shapes(example):
    """Each settings document is a valid request of its API once the user's part is added."""
    session = pytest.importorskip("botocore.session").get_session()
    from botocore.validate import ParamValidator

    def check(service: str, operation: str, params: dict) -> None:
        shape = session.get_service_model(service).operation_model(operation).input_shape
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), report.generate_report()

    for art in audit_artifacts(example)[0]:
        params = copy.deepcopy(art.settings)
        if art.kind == "cloudtrail-event-selectors":
            check("cloudtrail", "PutEventSelectors", {"TrailName": "org-trail", **params})
        elif art.kind == "eventbridge-rule":
            params["EventPattern"] = json.dumps(params["EventPattern"], separators=(",", ":"))
            check("events", "PutRule", params)
        elif art.kind == "guardduty-feature":
            check("guardduty", "UpdateDetector", {"DetectorId": "12abc34d567e8fa901bc2d34e56789f0", **params})
        else:
            raise AssertionError(art.kind)


def test_the_endpoint_denial_rule_fires_on_denied_requests_through_the_spec_kms_endpoints(example):
    pattern = by_path(audit_artifacts(example)[0])[
        "audit/eventbridge-perimeter-vpce-denied-kms-eu-central-1.json"].settings["EventPattern"]

    def event(vpce: str, error: str | None) -> dict:
        detail = {"eventCategory": "NetworkActivity", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                  "vpcEndpointId": vpce, "userIdentity": IAM_USER}
        if error:
            detail["errorCode"] = error
        return {"source": "aws.kms", "detail-type": "AWS Network Activity Event via CloudTrail", "detail": detail}
    assert matches(pattern, event("vpce-01a2b3c4d5e6f7a83", "VpceAccessDenied"))
    assert not matches(pattern, event("vpce-01a2b3c4d5e6f7a83", None))  # allowed through the endpoint
    assert not matches(pattern, event("vpce-0f9e8d7c6b5a43212", "VpceAccessDenied"))  # another account's endpoint
    assert not matches(pattern, {**event("vpce-01a2b3c4d5e6f7a83", "VpceAccessDenied"),
                                 "detail-type": "AWS API Call via CloudTrail"})
