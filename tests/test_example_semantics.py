"""What the compiled example means under AWS evaluation logic: each claim both ways."""

import pytest

from slpc.app.pipeline import compile_text
from slpc.policy.document import PolicyDocument, Statement
from slpc.verify.deployment import Deployment
from conftest import EXAMPLE

ACCT, OTHER = "111122223333", "444455556666"
ROLE = lambda name, acct=ACCT: f"arn:aws:iam::{acct}:role/{name}"
TRAINER, INFERENCE, DEPLOYER = ROLE("llm-trainer"), ROLE("llm-inference"), ROLE("llm-ci-deployer")
CHAT, ADMIN, BREAKGLASS = ROLE("chat-frontend"), ROLE("security-admin"), ROLE("security-breakglass")
EVALUATOR, ACCOUNT_ADMIN = ROLE("model-evaluator", OTHER), ROLE("Administrator")
KEY = "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
WEIGHTS, FINETUNE = "arn:aws:s3:::acme-llm-weights", "arn:aws:s3:::acme-llm-finetune"
REPO = "arn:aws:ecr:eu-central-1:111122223333:repository/llm-serving"
CHAT_EP = "arn:aws:sagemaker:eu-central-1:111122223333:endpoint/llm-chat-prod"
PROD_S3, EVAL_S3 = "vpce-01a2b3c4d5e6f7a80", "vpce-0f9e8d7c6b5a43211"
PROD_ECR_API, PROD_ECR_DKR, PROD_SM = "vpce-01a2b3c4d5e6f7a81", "vpce-01a2b3c4d5e6f7a82", "vpce-01a2b3c4d5e6f7a84"
NOW, LATER = "2026-11-28T12:00:00Z", "2027-07-01T00:00:00Z"
STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))  # AdministratorAccess


@pytest.fixture(scope="module")
def world():
    compiled = compile_text(EXAMPLE.read_text(), "example.slp")
    assert compiled.ok
    return Deployment.from_artifacts(compiled.artifacts)


def ctx(vpce=None, ip=None, time=NOW, tls=True, **more):
    c = {"aws:SecureTransport": "true" if tls else "false", "s3:TlsVersion": "1.3", "aws:CurrentTime": time}
    if vpce:
        c["aws:SourceVpce"] = vpce
    if ip:
        c["aws:SourceIp"] = ip
    c.update(more)
    return c


def allowed(world, principal, action, resource, context, star=False):
    return world.decide(principal, action, resource, context, extra_identity=(STAR,) if star else ()).allowed


# --- S3 data access ---------------------------------------------------------

@pytest.mark.parametrize("star", [False, True])
def test_nobody_outside_the_spec_reads_the_weights(world, star):
    for who in (ACCOUNT_ADMIN, ADMIN, BREAKGLASS, TRAINER, DEPLOYER, ROLE("x", OTHER), None):
        assert not allowed(world, who, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx(PROD_S3), star=star), who


def test_grantees_read_within_prefix_network_and_time(world):
    obj = f"{WEIGHTS}/released/m.bin"
    assert allowed(world, INFERENCE, "s3:GetObject", obj, ctx(PROD_S3))
    assert allowed(world, INFERENCE, "s3:GetObjectVersion", obj, ctx(PROD_S3))
    assert allowed(world, EVALUATOR, "s3:GetObject", obj, ctx(EVAL_S3))
    assert allowed(world, TRAINER, "s3:GetObject", f"{FINETUNE}/any/file", ctx(PROD_S3))


@pytest.mark.parametrize("star", [False, True])
def test_grantees_get_nothing_more_even_with_star(world, star):
    assert not allowed(world, INFERENCE, "s3:GetObject", f"{WEIGHTS}/checkpoints/c.pt", ctx(PROD_S3), star)
    assert not allowed(world, INFERENCE, "s3:GetObject", f"{WEIGHTS}/released-old/m.bin", ctx(PROD_S3), star)
    assert not allowed(world, INFERENCE, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx(EVAL_S3), star)
    assert not allowed(world, INFERENCE, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx(ip="198.51.100.7"), star)
    assert not allowed(world, INFERENCE, "s3:PutObject", f"{WEIGHTS}/released/m.bin", ctx(PROD_S3), star)
    assert not allowed(world, INFERENCE, "s3:DeleteObject", f"{WEIGHTS}/released/m.bin", ctx(PROD_S3), star)
    assert not allowed(world, EVALUATOR, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx(PROD_S3), star)
    assert not allowed(world, EVALUATOR, "s3:GetObject", f"{WEIGHTS}/released/m.bin", ctx(EVAL_S3, time=LATER), star)
    assert not allowed(world, TRAINER, "s3:PutObject", f"{WEIGHTS}/released/m.bin", ctx(PROD_S3), star)


def test_listing_is_prefix_scoped(world):
    assert allowed(world, INFERENCE, "s3:ListBucket", WEIGHTS, ctx(PROD_S3, **{"s3:prefix": "released/"}))
    assert not allowed(world, INFERENCE, "s3:ListBucket", WEIGHTS, ctx(PROD_S3, **{"s3:prefix": "checkpoints/"}))
    assert not allowed(world, INFERENCE, "s3:ListBucket", WEIGHTS, ctx(PROD_S3))
    assert allowed(world, TRAINER, "s3:ListBucket", FINETUNE, ctx(PROD_S3))
    assert not allowed(world, ACCOUNT_ADMIN, "s3:ListBucket", WEIGHTS, ctx(PROD_S3, **{"s3:prefix": "released/"}), True)


def test_transport(world):
    obj = f"{WEIGHTS}/released/m.bin"
    assert not allowed(world, INFERENCE, "s3:GetObject", obj, ctx(PROD_S3, tls=False))
    assert not allowed(world, INFERENCE, "s3:GetObject", obj, {**ctx(PROD_S3), "s3:TlsVersion": "1.1"})


# --- uploads and encryption -----------------------------------------------------

SSE, SSE_KEY, SSE_C = ("s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
                       "s3:x-amz-server-side-encryption-customer-algorithm")


@pytest.mark.parametrize("headers,ok", [
    ({SSE: "aws:kms", SSE_KEY: KEY}, True),
    ({}, True),  # no header: the bucket's default encryption (SSE-KMS with its key) applies
    ({SSE: "aws:kms"}, False),  # would use the AWS managed key aws/s3
    ({SSE: "AES256"}, False),
    ({SSE: "aws:kms:dsse", SSE_KEY: KEY}, False),
    ({SSE: "aws:kms", SSE_KEY: KEY.replace("1111", "9999")}, False),
    ({SSE_C: "AES256"}, False),
])
def test_uploads_must_use_the_bucket_key(world, headers, ok):
    assert allowed(world, TRAINER, "s3:PutObject", f"{WEIGHTS}/checkpoints/c.pt", ctx(PROD_S3, **headers)) is ok


# --- perimeter changes and object lock -----------------------------------------

def test_only_admins_change_the_perimeter(world):
    assert allowed(world, ADMIN, "s3:PutBucketPolicy", WEIGHTS, ctx(PROD_S3))
    assert allowed(world, ADMIN, "s3:GetBucketPolicy", WEIGHTS, ctx(PROD_S3))
    for who in (ACCOUNT_ADMIN, TRAINER, BREAKGLASS):
        for action in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl",
                       "s3:PutReplicationConfiguration", "s3:PutEncryptionConfiguration"):
            assert not allowed(world, who, action, WEIGHTS, ctx(PROD_S3), star=True), (who, action)


def test_only_breakglass_bypasses_governance(world):
    obj = f"{WEIGHTS}/checkpoints/c.pt"
    assert allowed(world, BREAKGLASS, "s3:BypassGovernanceRetention", obj, ctx(PROD_S3))
    assert allowed(world, BREAKGLASS, "s3:DeleteObjectVersion", obj, ctx(PROD_S3))
    assert not allowed(world, BREAKGLASS, "s3:GetObject", obj, ctx(PROD_S3), star=True)
    for who in (ADMIN, ACCOUNT_ADMIN, TRAINER):
        assert not allowed(world, who, "s3:BypassGovernanceRetention", obj, ctx(PROD_S3), star=True)
        assert not allowed(world, who, "s3:DeleteObjectVersion", obj, ctx(PROD_S3), star=True)


# --- KMS -----------------------------------------------------------------------

def via_s3(obj, **more):
    return {"kms:ViaService": "s3.eu-central-1.amazonaws.com", "kms:CallerAccount": more.pop("acct", ACCT),
            "kms:EncryptionContext:aws:s3:arn": obj, "aws:CurrentTime": more.pop("time", NOW), **more}


def test_key_use_only_through_s3_by_grantees(world):
    assert allowed(world, INFERENCE, "kms:Decrypt", KEY, via_s3(f"{WEIGHTS}/released/m.bin"))
    assert allowed(world, INFERENCE, "kms:Decrypt", KEY, via_s3(WEIGHTS))  # S3 Bucket Keys context
    assert allowed(world, EVALUATOR, "kms:Decrypt", KEY, via_s3(f"{WEIGHTS}/released/m.bin", acct=OTHER))
    assert allowed(world, TRAINER, "kms:GenerateDataKey", KEY, via_s3(f"{WEIGHTS}/checkpoints/c.pt"))
    assert not allowed(world, INFERENCE, "kms:Decrypt", KEY, {"aws:CurrentTime": NOW})  # direct call
    assert not allowed(world, INFERENCE, "kms:Decrypt", KEY, via_s3(f"{FINETUNE}/x"))
    assert not allowed(world, INFERENCE, "kms:GenerateDataKey", KEY, via_s3(f"{WEIGHTS}/released/m.bin"))
    assert not allowed(world, EVALUATOR, "kms:Decrypt", KEY, via_s3(f"{WEIGHTS}/released/m", acct=OTHER, time=LATER))


@pytest.mark.parametrize("who", [ACCOUNT_ADMIN, ADMIN, BREAKGLASS, f"arn:aws:iam::{ACCT}:root"])
def test_nobody_else_decrypts_even_with_kms_star(world, who):
    assert not allowed(world, who, "kms:Decrypt", KEY, via_s3(f"{WEIGHTS}/released/m.bin"), star=True)


def test_key_admins_manage_without_lockout(world):
    assert allowed(world, ADMIN, "kms:PutKeyPolicy", KEY, {})
    assert allowed(world, ADMIN, "kms:ScheduleKeyDeletion", KEY, {})
    assert not allowed(world, ADMIN, "kms:PutKeyPolicy", KEY, {"kms:BypassPolicyLockoutSafetyCheck": "true"})
    assert not allowed(world, ACCOUNT_ADMIN, "kms:PutKeyPolicy", KEY, {}, star=True)
    assert not allowed(world, ADMIN, "kms:CreateGrant", KEY, {})


# --- ECR and SageMaker ------------------------------------------------------------

def test_images(world):
    assert allowed(world, INFERENCE, "ecr:BatchGetImage", REPO, ctx(PROD_ECR_DKR))
    assert allowed(world, INFERENCE, "ecr:GetAuthorizationToken", "*", ctx(PROD_ECR_API))
    assert allowed(world, DEPLOYER, "ecr:PutImage", REPO, ctx(ip="198.51.100.7"))
    assert allowed(world, DEPLOYER, "ecr:PutImage", REPO, ctx(PROD_ECR_DKR))
    assert not allowed(world, INFERENCE, "ecr:BatchGetImage", REPO, ctx(ip="198.51.100.7"), star=True)
    assert not allowed(world, INFERENCE, "ecr:PutImage", REPO, ctx(PROD_ECR_DKR), star=True)
    assert not allowed(world, DEPLOYER, "ecr:PutImage", REPO, ctx(ip="203.0.113.9"), star=True)
    assert not allowed(world, ACCOUNT_ADMIN, "ecr:BatchGetImage", REPO, ctx(PROD_ECR_DKR), star=True)
    assert not allowed(world, ACCOUNT_ADMIN, "ecr:SetRepositoryPolicy", REPO, ctx(PROD_ECR_API), star=True)
    assert allowed(world, ADMIN, "ecr:SetRepositoryPolicy", REPO, ctx(PROD_ECR_API))
    assert not allowed(world, ADMIN, "ecr:BatchGetImage", REPO, ctx(PROD_ECR_DKR), star=True)


def test_invoke(world):
    assert allowed(world, CHAT, "sagemaker:InvokeEndpoint", CHAT_EP, ctx(PROD_SM))
    assert allowed(world, CHAT, "sagemaker:InvokeEndpointWithResponseStream", CHAT_EP, ctx(PROD_SM))
    assert not allowed(world, CHAT, "sagemaker:InvokeEndpoint", CHAT_EP, ctx(PROD_S3))
    assert not allowed(world, CHAT, "sagemaker:InvokeEndpoint", CHAT_EP.replace("llm-chat-prod", "other"), ctx(PROD_SM))
    assert not allowed(world, INFERENCE, "sagemaker:InvokeEndpoint", CHAT_EP, ctx(PROD_SM))
