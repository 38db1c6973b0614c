"""The perimeter controls of the example, each tested both ways with the evaluator."""

import json

import pytest

from slpc.app.pipeline import compile_text
from slpc.policy.document import PolicyDocument, Statement
from slpc.policy.limits import RULES, count
from slpc.verify.deployment import Deployment
from conftest import API_SPEC, EXAMPLE

ACCT = "111122223333"
INFERENCE, TRAINER = f"arn:aws:iam::{ACCT}:role/llm-inference", f"arn:aws:iam::{ACCT}:role/llm-trainer"
ADMIN, OUTSIDER = f"arn:aws:iam::{ACCT}:role/security-admin", f"arn:aws:iam::{ACCT}:role/some-app"
WEIGHTS = "arn:aws:s3:::acme-llm-weights"
PROD_S3, PROD_KMS, PROD_DKR = "vpce-01a2b3c4d5e6f7a80", "vpce-01a2b3c4d5e6f7a83", "vpce-01a2b3c4d5e6f7a82"
KEY = "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
NOW = "2026-11-28T12:00:00Z"


@pytest.fixture(scope="module")
def compiled():
    c = compile_text(EXAMPLE.read_text(), "example.slp")
    assert c.ok
    return c


@pytest.fixture(scope="module")
def world(compiled):
    return Deployment.from_artifacts(compiled.artifacts)


def ctx(vpce=PROD_S3, **more):
    return {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3", "aws:CurrentTime": NOW,
            "aws:SourceVpce": vpce, **more}


def by_path(compiled, path):
    return next(a for a in compiled.artifacts if a.path == path)


# --- VPC endpoint policies -----------------------------------------------------

def test_endpoint_lets_the_spec_through(world):
    assert world.decide(INFERENCE, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx()).allowed
    assert world.decide(TRAINER, "s3:PutObject", f"{WEIGHTS}/checkpoints/c.pt", ctx()).allowed
    assert world.decide(ADMIN, "s3:PutBucketPolicy", WEIGHTS, ctx()).allowed
    assert world.decide(ADMIN, "kms:PutKeyPolicy", KEY, {"aws:SourceVpce": PROD_KMS}).allowed


def test_no_copying_weights_out_through_the_endpoint(world):
    # the trainer holds broad IAM rights, yet cannot write to a bucket outside the spec
    outside = "arn:aws:s3:::attacker-bucket/weights.bin"
    d = world.decide(TRAINER, "s3:PutObject", outside, ctx(), extra_identity=(STAR,))
    assert not d.allowed and "VPC endpoint policy" in d.reason
    assert world.decide(TRAINER, "s3:PutObject", outside, {"aws:CurrentTime": NOW}, extra_identity=(STAR,)).allowed


def test_endpoint_stops_principals_outside_the_spec(world):
    d = world.decide(OUTSIDER, "s3:GetBucketTagging", WEIGHTS, ctx(), extra_identity=(STAR,))
    assert not d.allowed
    assert world.decide(OUTSIDER, "s3:GetBucketTagging", WEIGHTS, ctx(vpce="vpce-0ffffffffffffffff"),
                        extra_identity=(STAR,)).effect == "ExplicitDeny"  # and the bucket's own network deny


def test_image_layers_still_come_through_the_s3_endpoint(compiled):
    doc = json.loads(by_path(compiled, f"vpce/{PROD_S3}.json").text)
    layers = [s for s in doc["Statement"] if s["Sid"] == "AllowEcrImageLayers"]
    assert layers and layers[0]["Resource"] == ["arn:aws:s3:::prod-eu-central-1-starport-layer-bucket/*"]
    eval_doc = json.loads(by_path(compiled, "vpce/vpce-0f9e8d7c6b5a43211.json").text)  # no ECR in eval_vpc
    assert not [s for s in eval_doc["Statement"] if s["Sid"] == "AllowEcrImageLayers"]


def test_ecr_endpoint_admits_only_the_spec_repositories(world):
    repo = "arn:aws:ecr:eu-central-1:111122223333:repository/llm-serving"
    assert world.decide(INFERENCE, "ecr:BatchGetImage", repo, ctx(vpce=PROD_DKR)).allowed
    other = "arn:aws:ecr:eu-central-1:111122223333:repository/other"
    assert not world.decide(INFERENCE, "ecr:BatchGetImage", other, ctx(vpce=PROD_DKR), extra_identity=(STAR,)).allowed


# --- bucket protections -----------------------------------------------------------

def test_bucket_settings_are_safe_by_default(compiled):
    enc = json.loads(by_path(compiled, "s3/weights/encryption.json").text)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY},
                    "BucketKeyEnabled": True}
    pab = json.loads(by_path(compiled, "s3/weights/public-access-block.json").text)
    assert all(pab["PublicAccessBlockConfiguration"].values()) and len(pab["PublicAccessBlockConfiguration"]) == 4
    assert json.loads(by_path(compiled, "s3/weights/versioning.json").text)["VersioningConfiguration"] == {
        "Status": "Enabled"}
    own = json.loads(by_path(compiled, "s3/weights/ownership-controls.json").text)
    assert own["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    lock = json.loads(by_path(compiled, "s3/weights/object-lock.json").text)["ObjectLockConfiguration"]
    assert lock == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}}}
    assert not [a for a in compiled.artifacts if a.path == "s3/finetune_data/object-lock.json"]


def test_retention_cannot_outlast_the_declared_period(world):
    obj = f"{WEIGHTS}/checkpoints/c.pt"
    assert world.decide(TRAINER, "s3:PutObject", obj, ctx(**{"s3:object-lock-remaining-retention-days": "365"})).allowed
    assert not world.decide(TRAINER, "s3:PutObject", obj,
                            ctx(**{"s3:object-lock-remaining-retention-days": "366"})).allowed
    assert not world.decide(ADMIN, "s3:PutObjectRetention", obj,
                            ctx(**{"s3:object-lock-remaining-retention-days": "3650"}), extra_identity=(STAR,)).allowed


def test_presigned_urls_expire(world):
    obj = f"{WEIGHTS}/released/m.bin"
    assert world.decide(INFERENCE, "s3:GetObject", obj, ctx(**{"s3:signatureAge": "600000"})).allowed
    assert not world.decide(INFERENCE, "s3:GetObject", obj, ctx(**{"s3:signatureAge": "900001"})).allowed


def test_signature_age_is_configurable():
    text = EXAMPLE.read_text().replace("  breakglass  [breakglass]\n", "  breakglass  [breakglass]\n  signature_age 2 minutes\n")
    c = compile_text(text, "x.slp")
    assert c.ok
    doc = json.loads(next(a for a in c.artifacts if a.path == "s3/weights.json").text)
    deny = next(s for s in doc["Statement"] if s["Sid"] == "DenyOldSignatures")
    assert deny["Condition"] == {"NumericGreaterThan": {"s3:signatureAge": "120000"}}


# --- limits -----------------------------------------------------------------------

def test_every_artifact_of_the_example_fits_its_limit(compiled):
    kinds = set()
    for art in compiled.artifacts:
        if art.document is None:
            continue
        rule = RULES[art.kind]
        assert count(rule, art.text) <= rule.limit, art.path
        kinds.add(art.kind)
    assert kinds == {"iam-identity-policy", "s3-bucket-policy", "kms-key-policy", "ecr-repository-policy",
                     "vpc-endpoint-policy", "scp", "rcp", "iam-role-trust-policy"}


# --- API Gateway private APIs ---------------------------------------------------------

API = "arn:aws:execute-api:eu-central-1:111122223333:a1b2c3d4e5/prod/POST/v1/chat"


def test_private_api_only_for_grantees_through_its_endpoint():
    c = compile_text(API_SPEC, "api.slp")
    assert c.ok
    assert any(a.kind == "apigateway-resource-policy" and a.target ==
               "arn:aws:apigateway:eu-central-1::/restapis/a1b2c3d4e5" for a in c.artifacts)
    world = Deployment.from_artifacts(c.artifacts)
    via = {"aws:SourceVpce": "vpce-00000000000000005", "aws:CurrentTime": NOW}
    app, partner = "arn:aws:iam::111122223333:role/app", "arn:aws:iam::444455556666:role/partner"
    assert world.decide(app, "execute-api:Invoke", API, via).allowed
    assert world.decide(partner, "execute-api:Invoke", API, via).allowed  # cross account: both policies allow
    assert not world.decide(partner, "execute-api:Invoke", API, {**via, "aws:CurrentTime": "2030-01-01T00:00:00Z"}).allowed
    assert not world.decide(app, "execute-api:Invoke", API, {"aws:SourceIp": "198.51.100.7", "aws:CurrentTime": NOW},
                            extra_identity=(STAR,)).allowed  # private: public ranges never count
    assert not world.decide(OUTSIDER, "execute-api:Invoke", API, via, extra_identity=(STAR,)).allowed
    other_stage = API.replace("/prod/", "/dev/")
    assert not world.decide(app, "execute-api:Invoke", other_stage, via).allowed


def test_api_endpoint_forms_are_checked(tmp_path):
    both = API_SPEC.replace('  stage      "prod"\n', '  stage      "prod"\n  sagemaker  "x"\n')
    assert [d.code for d in compile_text(both).diagnostics if d.is_error] == ["E320"]
    no_stage = API_SPEC.replace('  stage      "prod"\n', "")
    assert [d.code for d in compile_text(no_stage).diagnostics if d.is_error] == ["E321"]
    public_only = API_SPEC.replace('  endpoint execute-api "vpce-00000000000000005"\n', "")
    assert "E403" in [d.code for d in compile_text(public_only).diagnostics if d.is_error]
