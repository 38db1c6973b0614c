"""Organization guardrails (targets/guardrails.py): each control tested both ways with
the evaluator, AWS's SCP/RCP rules, size limits and splitting."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st

from slpc.app.pipeline import compile_text
from slpc.targets import guardrails as G
from slpc.policy.document import PolicyDocument, Principal, Statement
from slpc.policy.limits import RULES, measure
from slpc.verify.catalogue import action as catalogue_action
from slpc.verify.evaluate import Evaluator
from slpc.verify.lint import FindingType, lint
from slpc.verify.request import Request

from conftest import EXAMPLE

ACCT = "111122223333"
OTHER = "444455556666"  # the example's evaluator account (a spec account, maybe outside the org)
FOREIGN = "999988887777"
ORG = "o-a1b2c3d4e5"
REGION = "eu-central-1"
SUBNETS = ["subnet-0a1b2c3d4e5f67891", "subnet-0a1b2c3d4e5f67892"]
SG = "sg-0a1b2c3d4e5f67893"
KEY = "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
FOREIGN_KEY = "arn:aws:kms:eu-central-1:111122223333:key/99999999-1111-2222-3333-444455556666"
TRAINER = f"arn:aws:iam::{ACCT}:role/llm-trainer"
ADMIN = f"arn:aws:iam::{ACCT}:role/security-admin"
EVALUATOR = f"arn:aws:iam::{OTHER}:role/model-evaluator"
WEIGHTS = "arn:aws:s3:::acme-llm-weights"
REPO = f"arn:aws:ecr:{REGION}:{ACCT}:repository/llm-serving"
S3_VPCE = "vpce-01a2b3c4d5e6f7a80"

EXAMPLES = int(os.environ.get("SLPC_PROPERTY_EXAMPLES", "25"))
ALLOW_ALL = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",), sid="FullAWSAccess"),))


def example(subnets: bool = True, deployment_extra: str = "", org: bool = True) -> str:
    text = EXAMPLE.read_text()
    for line in ('  subnets ["subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891"]\n',
                 '  security_groups ["sg-0a1b2c3d4e5f67890"]\n'):  # the example's own; replaced below
        assert line in text
        text = text.replace(line, "")
    if subnets:
        text = text.replace(
            '  vpc "vpc-0a1b2c3d4e5f67890"\n',
            '  vpc "vpc-0a1b2c3d4e5f67890"\n'
            f'  subnets ["{SUBNETS[0]}", "{SUBNETS[1]}"]\n  security_groups ["{SG}"]\n', 1)
    if not org:
        text = text.replace(f'  org       "{ORG}"\n', "")
    return text.replace('regions   ["eu-central-1"]\n', f'regions   ["eu-central-1"]\n{deployment_extra}')


def artifacts(text: str):
    compiled = compile_text(text, "spec.slp", emit=False)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    return G.guardrail_artifacts(compiled.model)


@pytest.fixture(scope="module")
def built():
    return artifacts(example())


def of_kind(arts, kind):
    return [a.document for a in arts if a.kind == kind]


def scp_evaluator(arts, identity=ALLOW_ALL) -> Evaluator:
    """AWS evaluates SCPs per level: our Deny-only SCPs sit beside FullAWSAccess."""
    stmts = tuple(s for d in of_kind(arts, "scp") for s in d.statements) + ALLOW_ALL.statements
    return Evaluator(scps=[PolicyDocument(stmts)], identity=[identity])


def rcp_evaluator(arts) -> Evaluator:
    """The RCPs over a resource policy that would let anyone in: only the RCPs decide."""
    anyone = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",), principal=Principal.any(),
                                       sid="Anyone"),))
    return Evaluator(rcps=of_kind(arts, "rcp"), resource=anyone, identity=[ALLOW_ALL])


def training(subnets=SUBNETS, isolation=True, encryption=True, output=KEY, volume=KEY, groups=(SG,),
             action="sagemaker:CreateTrainingJob", region=REGION, principal=TRAINER) -> Request:
    ctx: dict = {"aws:RequestedRegion": region}
    for key, value in ((G.SM_SUBNETS, subnets), (G.SM_SECURITY_GROUPS, groups), (G.SM_ISOLATION, isolation),
                       (G.SM_ICT_ENCRYPTION, encryption), (G.SM_OUTPUT_KEY, output), (G.SM_VOLUME_KEY, volume)):
        if value is not None:
            ctx[key] = list(value) if isinstance(value, (list, tuple)) else value
    return Request(principal, action, f"arn:aws:sagemaker:{region}:{ACCT}:training-job/t1", context=ctx)


# --------------------------------------------------------------------------- #
# Artifacts, AWS's rules for SCPs and RCPs


def test_artifacts_kinds_paths_targets(built):
    arts, diags = built
    assert not diags
    assert [(a.kind, a.path, a.name, a.target, a.account) for a in arts] == [
        ("scp", "org/scp-1.json", "scp-1", ORG, ACCT),
        ("scp", "org/scp-2.json", "scp-2", ORG, ACCT),
        ("rcp", "org/rcp-1.json", "rcp-1", ORG, ACCT),
    ]


@pytest.mark.parametrize("line, kinds", [
    ("  guardrails []\n", []),
    ("  guardrails [scp]\n", ["scp"]),
    ("  guardrails [rcp]\n", ["rcp"]),
    ("  guardrails [scp, rcp]\n", ["scp", "rcp"]),
])
def test_opt_out(line, kinds):
    arts, _ = artifacts(example(deployment_extra=line))
    assert list(dict.fromkeys(a.kind for a in arts)) == kinds


def test_without_org_the_target_is_the_account_and_accounts_bound_the_perimeter():
    arts, _ = artifacts(example(org=False))
    assert {a.target for a in arts} == {ACCT}
    text = "".join(a.text for a in arts)
    assert "aws:PrincipalOrgID" not in text and "aws:SourceOrgID" not in text
    ev = rcp_evaluator(arts)
    inside = {"aws:SourceVpce": S3_VPCE}
    assert ev.evaluate(Request(TRAINER, "s3:GetObject", WEIGHTS + "/a", context=inside)).allowed
    assert not ev.evaluate(Request(f"arn:aws:iam::{FOREIGN}:role/x", "s3:GetObject", WEIGHTS + "/a",
                                   context=inside)).allowed


def test_policies_follow_aws_rules_and_lint_clean(built):
    arts, _ = built
    for a in arts:
        doc = a.document
        assert all(s.effect == "Deny" for s in doc.statements)
        assert len({s.sid for s in doc.statements}) == len(doc.statements)
        assert measure(a.kind, doc) <= RULES[a.kind].limit
        for s in doc.statements:
            # SCPs take NotResource (AWS Organizations, "SCP syntax"); RCPs do not
            assert not s.not_principal and (a.kind == "scp" or not s.not_resources)
            if a.kind == "rcp":
                assert s.principal == Principal.any() and not s.not_actions
            else:
                assert s.principal is None
        findings = [f for f in lint(a.text, a.kind) if f.finding_type != FindingType.SUGGESTION]
        assert findings == [], [(f.issue_code, f.path, f.message) for f in findings]


def test_sagemaker_condition_keys_are_supported_by_each_action():
    """Every SageMaker action is denied only with keys AWS sets for it (catalogue)."""
    rules = [
        (G.SM_REQUIRE_VPC, G.SM_SUBNETS), (G.SM_NO_FOREIGN_VPC, G.SM_SUBNETS),
        (G.SM_NO_FOREIGN_VPC, G.SM_SECURITY_GROUPS), (G.SM_REQUIRE_ISOLATION, G.SM_ISOLATION),
        (G.SM_ENDPOINT_CONFIG, G.SM_ISOLATION), (G.SM_REQUIRE_ICT_ENCRYPTION, G.SM_ICT_ENCRYPTION),
        (G.SM_OUTPUT_KEY_ACTIONS, G.SM_OUTPUT_KEY), (G.SM_VOLUME_KEY_ACTIONS, G.SM_VOLUME_KEY),
        (("kms:CreateKey",), G.KMS_MULTI_REGION), (G.SM_NOTEBOOK, G.SM_DIRECT_INTERNET),
        (G.SM_DOMAIN_CREATE + G.SM_DOMAIN_UPDATE, G.SM_APP_NETWORK),
    ]
    for actions, key in rules:
        for name in actions:
            act = catalogue_action(name)
            assert act is not None, name
            assert key in act.condition_keys, (name, key)


def test_every_named_action_exists():
    families = (G.AUDIT_TAMPERING_ACTIONS + G.KMS_MULTI_REGION_ACTIONS + G.S3_REPLICATION_CHANGES
                + G.ECR_REPLICATION_CHANGES + G.SM_NO_FOREIGN_VPC + G.SM_TRANSFORM)
    assert [a for a in families if catalogue_action(a) is None] == []


# --------------------------------------------------------------------------- #
# SCP: SageMaker creation guardrails


def test_training_job_inside_the_spec_is_allowed(built):
    ev = scp_evaluator(built[0])
    assert ev.evaluate(training()).allowed
    assert ev.evaluate(training(subnets=SUBNETS[:1])).allowed
    # No volume key: allowed (local-NVMe instance types refuse one).
    assert ev.evaluate(training(volume=None)).allowed


def test_scp_never_grants(built):
    ev = scp_evaluator(built[0], identity=PolicyDocument((Statement("Allow", actions=("s3:GetObject",),
                                                                     resources=("*",), sid="Only"),)))
    assert not ev.evaluate(training()).allowed


@pytest.mark.parametrize("change", [
    {"subnets": ["subnet-0ffffffffffffffff"]},              # a foreign subnet
    {"subnets": [SUBNETS[0], "subnet-0ffffffffffffffff"]},  # one of ours, one foreign
    {"subnets": None},                                      # no VPC at all
    {"groups": ["sg-0ffffffffffffffff"]},                   # a foreign security group
    {"isolation": False},
    {"isolation": None},
    {"encryption": False},
    {"encryption": None},
    {"output": FOREIGN_KEY},
    {"output": None},                                       # no output key: S3's default key
    {"output": "alias/aws/s3"},
    {"volume": FOREIGN_KEY},
    {"region": "us-east-1"},
])
def test_training_job_outside_the_spec_is_denied(built, change):
    assert not scp_evaluator(built[0]).evaluate(training(**change)).allowed


@pytest.mark.parametrize("action", ["sagemaker:CreateProcessingJob", "sagemaker:CreateHyperParameterTuningJob"])
def test_other_jobs_follow_the_same_rules(built, action):
    ev = scp_evaluator(built[0])
    assert ev.evaluate(training(action=action)).allowed
    assert not ev.evaluate(training(action=action, subnets=None)).allowed
    assert not ev.evaluate(training(action=action, isolation=False)).allowed


def test_model_and_endpoint_config(built):
    ev = scp_evaluator(built[0])
    model = dict(action="sagemaker:CreateModel", encryption=None, output=None, volume=None)
    assert ev.evaluate(training(**model)).allowed
    assert not ev.evaluate(training(**model | {"subnets": None})).allowed
    assert not ev.evaluate(training(**model | {"isolation": None})).allowed
    config = dict(action="sagemaker:CreateEndpointConfig", encryption=None, output=None, isolation=None)
    # A classic endpoint config carries no VPC (the model does): allowed.
    assert ev.evaluate(training(**config | {"subnets": None, "groups": None, "volume": None})).allowed
    assert not ev.evaluate(training(**config | {"subnets": ["subnet-0ffffffffffffffff"]})).allowed
    assert not ev.evaluate(training(**config | {"isolation": False})).allowed
    assert not ev.evaluate(training(**config | {"volume": FOREIGN_KEY})).allowed


def test_without_subnets_only_key_and_isolation_rules_and_a_warning():
    arts, diags = artifacts(example(subnets=False))
    assert [d.code for d in diags] == ["W530"]
    assert not diags[0].is_error
    ev = scp_evaluator(arts)
    assert ev.evaluate(training(subnets=None, groups=None)).allowed
    assert not ev.evaluate(training(subnets=None, groups=None, isolation=False)).allowed
    assert not ev.evaluate(training(subnets=None, groups=None, output=FOREIGN_KEY)).allowed


# --------------------------------------------------------------------------- #
# SCP: regions, audit, keys, replication


@pytest.mark.parametrize("principal, action, resource, region, allowed", [
    (TRAINER, "s3:GetObject", WEIGHTS + "/a", REGION, True),
    (TRAINER, "s3:GetObject", WEIGHTS + "/a", "us-east-1", False),
    (TRAINER, "s3:CreateBucket", "arn:aws:s3:::exfil", "ap-southeast-1", False),
    (TRAINER, "s3:GetObject", "arn:aws:s3:us-west-2:111122223333:accesspoint/ap/object/a", "us-west-2", False),
    (TRAINER, "kms:Decrypt", KEY, "us-west-2", False),
    (TRAINER, "ecr:BatchGetImage", REPO, "us-west-2", False),
    (TRAINER, "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:us-west-2:{ACCT}:endpoint/x", "us-west-2", False),
    (TRAINER, "bedrock:InvokeModel", "arn:aws:bedrock:us-west-2::foundation-model/x", "us-west-2", False),
    # Global services and S3's account-level actions stay usable from us-east-1.
    (TRAINER, "iam:CreateRole", f"arn:aws:iam::{ACCT}:role/x", "us-east-1", True),
    (TRAINER, "sts:GetCallerIdentity", "*", "us-east-1", True),
    (TRAINER, "cloudfront:ListDistributions", "*", "us-east-1", True),
    (TRAINER, "s3:ListAllMyBuckets", "*", "us-east-1", True),
    (TRAINER, "s3:PutAccountPublicAccessBlock", "*", "us-east-1", True),
])
def test_regions(built, principal, action, resource, region, allowed):
    req = Request(principal, action, resource, context={"aws:RequestedRegion": region})
    assert scp_evaluator(built[0]).evaluate(req).allowed is allowed


@pytest.mark.parametrize("action", ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors",
                                    "cloudtrail:UpdateTrail", "guardduty:DeleteDetector", "guardduty:UpdateDetector"])
def test_audit_tampering(built, action):
    ev = scp_evaluator(built[0])
    ctx = {"aws:RequestedRegion": REGION}
    assert not ev.evaluate(Request(TRAINER, action, "*", context=ctx)).allowed
    assert ev.evaluate(Request(ADMIN, action, "*", context=ctx)).allowed  # the spec's admins
    assert ev.evaluate(Request(TRAINER, "cloudtrail:LookupEvents", "*", context=ctx)).allowed


def test_multi_region_keys(built):
    ev = scp_evaluator(built[0])
    ctx = {"aws:RequestedRegion": REGION}
    assert not ev.evaluate(Request(ADMIN, "kms:CreateKey", "*", context=ctx | {"kms:MultiRegion": True})).allowed
    assert ev.evaluate(Request(ADMIN, "kms:CreateKey", "*", context=ctx | {"kms:MultiRegion": False})).allowed
    assert not ev.evaluate(Request(ADMIN, "kms:ReplicateKey", KEY, context=ctx)).allowed


@pytest.mark.parametrize("action, resource", [("s3:PutReplicationConfiguration", WEIGHTS),
                                              ("ecr:PutReplicationConfiguration", "*")])
def test_replication_only_by_admins(built, action, resource):
    ev = scp_evaluator(built[0])
    ctx = {"aws:RequestedRegion": REGION}
    assert not ev.evaluate(Request(TRAINER, action, resource, context=ctx)).allowed
    assert ev.evaluate(Request(ADMIN, action, resource, context=ctx)).allowed


# --------------------------------------------------------------------------- #
# RCP: identity and network perimeter


OUTSIDER = f"arn:aws:iam::{FOREIGN}:role/thief"


@pytest.mark.parametrize("principal, ctx, allowed", [
    (TRAINER, {"aws:PrincipalOrgID": ORG, "aws:SourceVpce": S3_VPCE}, True),
    (OUTSIDER, {"aws:PrincipalOrgID": "o-zzzzzzzzzz", "aws:SourceVpce": S3_VPCE}, False),
    (OUTSIDER, {"aws:SourceVpce": S3_VPCE}, False),
    # The spec's cross-account evaluator: a spec account, even if outside the org.
    (EVALUATOR, {"aws:PrincipalOrgID": "o-zzzzzzzzzz", "aws:SourceVpce": "vpce-0f9e8d7c6b5a43211"}, True),
    (None, {"aws:SourceVpce": S3_VPCE}, False),  # anonymous
    # Inside the org but outside the networks.
    (TRAINER, {"aws:PrincipalOrgID": ORG, "aws:SourceIp": "203.0.113.9"}, False),
    (TRAINER, {"aws:PrincipalOrgID": ORG, "aws:SourceVpce": "vpce-0ffffffffffffffff"}, False),
    # An AWS service acting with the caller's credentials (ViaAWSService) is no network client.
    (TRAINER, {"aws:PrincipalOrgID": ORG, "aws:ViaAWSService": True}, True),
])
def test_rcp_on_bucket(built, principal, ctx, allowed):
    req = Request(principal, "s3:GetObject", WEIGHTS + "/released/m.pt", context=ctx)
    assert rcp_evaluator(built[0]).evaluate(req).allowed is allowed


@pytest.mark.parametrize("ctx, allowed", [
    ({"aws:SourceOrgID": ORG, "aws:SourceAccount": ACCT}, True),
    ({"aws:SourceAccount": ACCT}, True),
    ({"aws:SourceOrgID": "o-zzzzzzzzzz", "aws:SourceAccount": FOREIGN}, False),
    ({"aws:SourceAccount": FOREIGN}, False),
    ({}, True),  # no source context: not the confused-deputy case (the bucket policy still decides)
])
def test_rcp_service_principals(built, ctx, allowed):
    req = Request("cloudtrail.amazonaws.com", "s3:PutObject", WEIGHTS + "/AWSLogs/x", context=ctx)
    assert rcp_evaluator(built[0]).evaluate(req).allowed is allowed


def test_rcp_on_key_and_repository(built):
    ev = rcp_evaluator(built[0])
    org = {"aws:PrincipalOrgID": ORG}
    # S3 calling KMS for the caller: allowed; a direct Decrypt from outside the networks: denied.
    assert ev.evaluate(Request(TRAINER, "kms:Decrypt", KEY, context=org | {"aws:ViaAWSService": True})).allowed
    assert not ev.evaluate(Request(TRAINER, "kms:Decrypt", KEY, context=org | {"aws:SourceIp": "203.0.113.9"})).allowed
    assert ev.evaluate(Request(TRAINER, "kms:Decrypt", KEY, context=org | {"aws:SourceVpce": "vpce-01a2b3c4d5e6f7a83"})).allowed
    # EBS decrypting a SageMaker volume as aws:ec2-infrastructure.
    ebs = f"arn:aws:iam::{ACCT}:role/aws:ec2-infrastructure"
    assert ev.evaluate(Request(ebs, "kms:Decrypt", KEY, context=org)).allowed
    # Key administration is not network-bound, but is identity-bound.
    assert ev.evaluate(Request(ADMIN, "kms:PutKeyPolicy", KEY, context=org | {"aws:SourceIp": "203.0.113.9"})).allowed
    assert not ev.evaluate(Request(OUTSIDER, "kms:DescribeKey", KEY, context={"aws:SourceIp": "198.51.100.1"})).allowed
    # Repository: office CIDR allowed (deployer's grant), elsewhere denied.
    assert ev.evaluate(Request(TRAINER, "ecr:BatchGetImage", REPO, context=org | {"aws:SourceIp": "198.51.100.7"})).allowed
    assert not ev.evaluate(Request(TRAINER, "ecr:BatchGetImage", REPO, context=org | {"aws:SourceIp": "203.0.113.9"})).allowed


def test_rcp_leaves_other_resources_alone(built):
    req = Request(OUTSIDER, "s3:GetObject", "arn:aws:s3:::someone-elses-bucket/a", context={})
    assert rcp_evaluator(built[0]).evaluate(req).allowed


# --------------------------------------------------------------------------- #
# Size limits and splitting


def _letters(i: int) -> str:
    """A bucket-name part without digits (`aaa`, `aab`, ...): names no number groups."""
    return "".join("abcdefghijklmnopqrstuvwxyz"[i // 26 ** k % 26] for k in (2, 1, 0))


def bucket_name(i: int, numbered: bool) -> str:
    return f"acme-model-artifacts-bucket-{i:05d}" if numbered else f"acme-model-artifacts-{_letters(i)}-bucket"


def large_spec(buckets: int, subnets: int = 2, admins: int = 1, numbered: bool = False) -> str:
    lines = [
        'deployment "big" {\n  partition "aws"\n  account "111122223333"\n  org "o-a1b2c3d4e5"\n'
        '  regions ["eu-central-1"]\n}\n',
        'network vpc {\n  vpc "vpc-0a1b2c3d4e5f67890"\n  endpoint s3 "vpce-01a2b3c4d5e6f7a80"\n'
        '  subnets [' + ", ".join(f'"subnet-{i:017x}"' for i in range(subnets)) + ']\n'
        '  security_groups ["sg-0a1b2c3d4e5f67890"]\n}\n',  # the workload group's id, declared (W536 otherwise)
        'role reader "arn:aws:iam::111122223333:role/reader"\n',
    ]
    lines += [f'role admin{i} "arn:aws:iam::111122223333:role/a-rather-long-administrator-role-name-{i:04d}"\n'
              for i in range(admins)]
    admin_list = ", ".join(f"admin{i}" for i in range(admins))
    lines.append('key k {\n  arn "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"\n'
                 f'  admins [{admin_list}]\n}}\n')
    for i in range(buckets):
        name = bucket_name(i, numbered)
        lines.append(f'bucket b{i} {{\n  name "{name}"\n  encrypt k\n'
                     f'  admins [{admin_list}]\n}}\n')
        lines.append(f"allow reader read b{i} from vpc\n")
    return "\n".join(lines)


def test_large_spec_is_split_and_still_covers_every_bucket():
    arts, diags = artifacts(large_spec(120))
    rcps = [a for a in arts if a.kind == "rcp"]
    assert len(rcps) > 1
    assert [a.path for a in rcps] == [f"org/rcp-{n}.json" for n in range(1, len(rcps) + 1)]
    for a in arts:
        assert measure(a.kind, a.document) <= 5120
        assert len({s.sid for s in a.document.statements}) == len(a.document.statements)
    assert [d.code for d in diags] == ["W532"] if len(rcps) > G.ATTACH_QUOTA - 1 else not diags
    ev = rcp_evaluator(arts)
    for i in (0, 57, 119):
        obj = f"arn:aws:s3:::acme-model-artifacts-{_letters(i)}-bucket/x"
        assert not ev.evaluate(Request(OUTSIDER, "s3:GetObject", obj, context={"aws:SourceVpce": S3_VPCE})).allowed
        assert not ev.evaluate(Request("arn:aws:iam::111122223333:role/reader", "s3:GetObject", obj,
                                       context={"aws:PrincipalOrgID": ORG, "aws:SourceIp": "203.0.113.9"})).allowed
        assert ev.evaluate(Request("arn:aws:iam::111122223333:role/reader", "s3:GetObject", obj,
                                   context={"aws:PrincipalOrgID": ORG, "aws:SourceVpce": S3_VPCE})).allowed


def test_numbered_buckets_are_one_pattern_in_the_guardrails():
    """The same 120 buckets numbered: one pattern per family instead of 120 ARNs, one RCP,
    and every bucket still inside the perimeter (a Deny over a pattern is only stricter)."""
    arts, diags = artifacts(large_spec(120, numbered=True))
    rcps = [a for a in arts if a.kind == "rcp"]
    assert len(rcps) == 1 and not diags
    assert {r for s in rcps[0].document.statements for r in s.resources if ":s3:::" in r} == {
        "arn:aws:s3:::acme-model-artifacts-bucket-*"}
    ev = rcp_evaluator(arts)
    for i in (0, 57, 119):
        obj = f"arn:aws:s3:::acme-model-artifacts-bucket-{i:05d}/x"
        assert not ev.evaluate(Request(OUTSIDER, "s3:GetObject", obj, context={"aws:SourceVpce": S3_VPCE})).allowed
        assert ev.evaluate(Request("arn:aws:iam::111122223333:role/reader", "s3:GetObject", obj,
                                   context={"aws:PrincipalOrgID": ORG, "aws:SourceVpce": S3_VPCE})).allowed


def test_a_family_split_over_network_statements_stays_named():
    """Buckets of one family granted from different networks: each network statement
    names its own buckets, never the family's pattern (which would deny the others'
    networks on them)."""
    spec = large_spec(4, numbered=True).replace(
        'network vpc {', 'network ci {\n  cidr "203.0.113.0/24"\n}\nnetwork vpc {').replace(
        "allow reader read b3 from vpc", "allow reader read b3 from ci")
    arts, _ = artifacts(spec)
    nets = [s for a in arts if a.kind == "rcp" for s in a.document.statements if s.sid.startswith("DenyOutsideNetworks")]
    assert not any(r.endswith("bucket-*") for s in nets for r in s.resources)
    ev = rcp_evaluator(arts)
    reader = "arn:aws:iam::111122223333:role/reader"
    assert ev.evaluate(Request(reader, "s3:GetObject", "arn:aws:s3:::acme-model-artifacts-bucket-00003/x",
                               context={"aws:PrincipalOrgID": ORG, "aws:SourceIp": "203.0.113.9"})).allowed
    assert ev.evaluate(Request(reader, "s3:GetObject", "arn:aws:s3:::acme-model-artifacts-bucket-00000/x",
                               context={"aws:PrincipalOrgID": ORG, "aws:SourceVpce": S3_VPCE})).allowed


def test_an_unsplittable_statement_is_a_clear_error():
    arts, diags = artifacts(large_spec(1, subnets=400))
    errors = [d for d in diags if d.is_error]
    assert errors and all(d.code == "E530" for d in errors)
    assert any("DenySageMakerForeignSubnets" in d.message for d in errors)
    for a in arts:
        assert measure(a.kind, a.document) <= 5120


def test_many_admins_split_the_scp():
    arts, diags = artifacts(large_spec(1, admins=40))
    scps = [a for a in arts if a.kind == "scp"]
    assert len(scps) >= 2 and not [d for d in diags if d.is_error]
    ev = scp_evaluator(arts)
    ctx = {"aws:RequestedRegion": REGION}
    assert not ev.evaluate(Request(TRAINER, "cloudtrail:StopLogging", "*", context=ctx)).allowed
    admin = "arn:aws:iam::111122223333:role/a-rather-long-administrator-role-name-0039"
    assert ev.evaluate(Request(admin, "cloudtrail:StopLogging", "*", context=ctx)).allowed


@pytest.mark.property
@settings(max_examples=EXAMPLES, deadline=None)
@given(buckets=st.integers(0, 90), subnets=st.integers(0, 60), admins=st.integers(0, 12), numbered=st.booleans())
def test_property_every_policy_fits_and_the_perimeter_holds(buckets, subnets, admins, numbered):
    arts, diags = artifacts(large_spec(buckets, subnets=subnets, admins=max(admins, 1), numbered=numbered))
    assert not [d for d in diags if d.is_error]
    for a in arts:
        assert measure(a.kind, a.document) <= RULES[a.kind].limit
    if buckets:
        ev = rcp_evaluator(arts)
        last = f"arn:aws:s3:::{bucket_name(buckets - 1, numbered)}/x"
        assert not ev.evaluate(Request(OUTSIDER, "s3:GetObject", last, context={"aws:SourceVpce": S3_VPCE})).allowed
    sev = scp_evaluator(arts)
    ctx = {"aws:RequestedRegion": "us-west-2"}
    assert not sev.evaluate(Request(TRAINER, "s3:GetObject", "arn:aws:s3:::x/y", context=ctx)).allowed


# --------------------------------------------------------------------------- #
# SageMaker endpoints: no resource policy, so the SCP holds the account's own callers

CHAT = f"arn:aws:sagemaker:{REGION}:{ACCT}:endpoint/llm-chat-prod"
FRONTEND = f"arn:aws:iam::{ACCT}:role/chat-frontend"
SM_VPCE = "vpce-01a2b3c4d5e6f7a84"


@pytest.mark.parametrize("principal, ctx, allowed", [
    (FRONTEND, {"aws:SourceVpce": SM_VPCE}, True),
    (FRONTEND, {"aws:SourceIp": "203.0.113.50"}, False),  # its grant is from prod_vpc only
    (FRONTEND, {"aws:SourceVpce": "vpce-0ffffffffffffffff"}, False),
    (f"arn:aws:iam::{ACCT}:role/Admin", {"aws:SourceIp": "203.0.113.50"}, False),  # *:*, no grant
    (f"arn:aws:iam::{ACCT}:role/Admin", {"aws:SourceVpce": SM_VPCE}, False),
    (TRAINER, {"aws:SourceVpce": SM_VPCE}, False),  # a spec role without a grant on it
])
@pytest.mark.parametrize("action", ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync",
                                    "sagemaker:InvokeEndpointWithResponseStream"])
def test_only_grantees_invoke_an_endpoint_and_only_from_their_networks(built, principal, ctx, allowed, action):
    arts, _ = built
    req = Request(principal, action, CHAT, context={"aws:RequestedRegion": REGION, **ctx})
    assert scp_evaluator(arts).evaluate(req).allowed is allowed


def test_other_sagemaker_calls_on_an_endpoint_stay_with_iam(built):
    arts, _ = built
    req = Request(f"arn:aws:iam::{ACCT}:role/Admin", "sagemaker:DescribeEndpoint", CHAT,
                  context={"aws:RequestedRegion": REGION})
    assert scp_evaluator(arts).evaluate(req).allowed


def test_an_endpoint_grant_until_a_date_ends_in_the_scp_too():
    text = example().replace("allow chat_frontend invoke chat                   from prod_vpc",
                             'allow chat_frontend invoke chat from prod_vpc until "2027-06-30T00:00:00Z"')
    arts, _ = artifacts(text)
    for when, allowed in (("2027-06-29T23:59:59Z", True), ("2027-06-30T00:00:00Z", False)):
        req = Request(FRONTEND, "sagemaker:InvokeEndpoint", CHAT, context={
            "aws:RequestedRegion": REGION, "aws:SourceVpce": SM_VPCE, "aws:CurrentTime": when})
        assert scp_evaluator(arts).evaluate(req).allowed is allowed


def test_without_the_scp_each_endpoint_and_the_roles_are_named_as_open():
    _, diags = artifacts(example(deployment_extra="  guardrails [rcp]\n"))
    w533 = [d.message for d in diags if d.code == "W533"]
    assert any("SageMaker endpoint `chat`" in m for m in w533)
    assert any("`trainer`" in m and "`deployer`" in m for m in w533)
    assert not [d for d in diags if d.code == "W534"]


def test_in_the_management_account_what_rests_on_the_scp_is_named_as_open():
    _, diags = artifacts(example(deployment_extra=f'  management_account "{ACCT}"\n'))
    w534 = [d.message for d in diags if d.code == "W534"]
    assert any("SageMaker endpoint `chat`" in m and ACCT in m for m in w534)
    assert any("`trainer`" in m for m in w534) and not any("`evaluator`" in m for m in w534)  # 444455556666's
    _, elsewhere = artifacts(example(deployment_extra=f'  management_account "{FOREIGN}"\n'))
    assert not [d for d in elsewhere if d.code in ("W533", "W534")]


# --------------------------------------------------------------------------- #
# SageMaker: where people work on models, and which roles SageMaker runs as

@pytest.mark.parametrize("action, ctx, allowed", [
    ("sagemaker:CreateNotebookInstance", {G.SM_DIRECT_INTERNET: "Disabled", G.SM_SUBNETS: [SUBNETS[0]]}, True),
    ("sagemaker:CreateNotebookInstance", {G.SM_DIRECT_INTERNET: "Enabled", G.SM_SUBNETS: [SUBNETS[0]]}, False),
    ("sagemaker:CreateNotebookInstance", {}, False),  # AWS's default is direct internet access
    ("sagemaker:CreateNotebookInstance", {G.SM_DIRECT_INTERNET: "Disabled", G.SM_SUBNETS: ["subnet-0ffffffffffffffff"]},
     False),
    ("sagemaker:CreateDomain", {G.SM_APP_NETWORK: "VpcOnly", G.SM_SUBNETS: SUBNETS}, True),
    ("sagemaker:CreateDomain", {G.SM_APP_NETWORK: "PublicInternetOnly", G.SM_SUBNETS: SUBNETS}, False),
    ("sagemaker:CreateDomain", {G.SM_SUBNETS: SUBNETS}, False),  # the default is PublicInternetOnly
    ("sagemaker:UpdateDomain", {}, True),  # leaves the setting as it is
    ("sagemaker:UpdateDomain", {G.SM_APP_NETWORK: "PublicInternetOnly"}, False),
    ("sagemaker:UpdateDomain", {G.SM_SECURITY_GROUPS: ["sg-0ffffffffffffffff"]}, False),
])
def test_notebooks_and_studio_without_direct_internet(built, action, ctx, allowed):
    arts, _ = built
    req = Request(TRAINER, action, f"arn:aws:sagemaker:{REGION}:{ACCT}:x/y", context={"aws:RequestedRegion": REGION,
                                                                                    **ctx})
    assert scp_evaluator(arts).evaluate(req).allowed is allowed


DEPLOYER = f"arn:aws:iam::{ACCT}:role/llm-ci-deployer"


@pytest.mark.parametrize("role, service, allowed", [
    (TRAINER, "sagemaker.amazonaws.com", True),
    (f"arn:aws:iam::{ACCT}:role/llm-inference", "sagemaker.amazonaws.com", True),
    (f"arn:aws:iam::{ACCT}:role/data-science-broad", "sagemaker.amazonaws.com", False),  # a role outside the spec
    (f"arn:aws:iam::{ACCT}:role/chat-frontend", "sagemaker.amazonaws.com", False),  # declared for EKS only
    (f"arn:aws:iam::{ACCT}:role/data-science-broad", "lambda.amazonaws.com", True),  # not SageMaker: not ours
])
def test_sagemaker_runs_only_as_the_roles_the_spec_passes_to_it(built, role, service, allowed):
    arts, _ = built
    req = Request(DEPLOYER, "iam:PassRole", role, context={"iam:PassedToService": service})
    assert scp_evaluator(arts).evaluate(req).allowed is allowed
