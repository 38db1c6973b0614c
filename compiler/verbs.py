"""The verb table and the AWS action families slpc reasons with — one place.

A verb expands to exact actions, each with a *scope* saying how the grant's
resource and prefix apply to it. Targets and the verifier read this table; no
other module names an action that a verb grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

# How an action is scoped by a grant:
OBJECT = "object"            # resource: the asset's objects under the prefix
BUCKET_PREFIX = "bucket-prefix"  # resource: the bucket; s3:prefix limited to the prefix
BUCKET = "bucket"            # resource: the bucket itself
KEY_VIA_S3 = "key-via-s3"    # resource: the bucket's KMS key, only through S3
REPOSITORY = "repository"    # resource: the repository
ACCOUNT = "account"          # resource "*": an account-level action (identity policy only)
ENDPOINT = "endpoint"        # resource: the SageMaker endpoint
API = "api"                  # resource: every method and path of an API Gateway stage


@dataclass(frozen=True)
class Verb:
    name: str
    asset_kind: str
    actions: tuple[tuple[str, str], ...]  # (action, scope)
    doc: str

    def actions_with(self, scope: str) -> tuple[str, ...]:
        return tuple(a for a, s in self.actions if s == scope)

    @cached_property  # read for every grant of a build
    def scopes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(scope, its actions) for each scope of the verb, in the order they first appear."""
        return tuple((scope, self.actions_with(scope)) for scope in dict.fromkeys(s for _, s in self.actions))


_PULL = (
    ("ecr:BatchGetImage", REPOSITORY),
    ("ecr:GetDownloadUrlForLayer", REPOSITORY),
    ("ecr:BatchCheckLayerAvailability", REPOSITORY),
    ("ecr:GetAuthorizationToken", ACCOUNT),
)

VERBS: dict[tuple[str, str], Verb] = {
    (v.asset_kind, v.name): v
    for v in (
        Verb("read", "bucket", (
            ("s3:GetObject", OBJECT), ("s3:GetObjectVersion", OBJECT),
            ("s3:ListBucket", BUCKET_PREFIX), ("kms:Decrypt", KEY_VIA_S3),
        ), "read objects under the prefix and list their keys; decrypt through S3"),
        Verb("write", "bucket", (
            ("s3:PutObject", OBJECT), ("s3:AbortMultipartUpload", OBJECT),
            ("s3:ListMultipartUploadParts", OBJECT),
            ("kms:GenerateDataKey", KEY_VIA_S3), ("kms:Decrypt", KEY_VIA_S3),
        ), "write objects under the prefix (multipart included); encrypt through S3"),
        Verb("list", "bucket", (
            ("s3:ListBucket", BUCKET_PREFIX), ("s3:GetBucketLocation", BUCKET),
        ), "list keys under the prefix"),
        Verb("delete", "bucket", (
            ("s3:DeleteObject", OBJECT), ("s3:DeleteObjectVersion", OBJECT),
        ), "delete objects and object versions under the prefix"),
        Verb("pull", "repository", _PULL, "pull images"),
        Verb("push", "repository", _PULL + (
            ("ecr:InitiateLayerUpload", REPOSITORY), ("ecr:UploadLayerPart", REPOSITORY),
            ("ecr:CompleteLayerUpload", REPOSITORY), ("ecr:PutImage", REPOSITORY),
        ), "push images (and pull them)"),
        Verb("invoke", "endpoint", (
            ("sagemaker:InvokeEndpoint", ENDPOINT), ("sagemaker:InvokeEndpointAsync", ENDPOINT),
            ("sagemaker:InvokeEndpointWithResponseStream", ENDPOINT),
        ), "invoke the inference endpoint"),
        Verb("invoke", "api", (("execute-api:Invoke", API),), "call every method of the private API stage"),
    )
}

def verbs_for(kind: str) -> list[str]:
    return [v.name for (k, _), v in VERBS.items() if k == kind]



# Services reached only through VPC endpoints (private APIs): public CIDRs never count.
PRIVATE_ONLY_SERVICES = ("execute-api",)


def reachable_from_cidrs(services: tuple[str, ...]) -> bool:
    return not set(services) <= set(PRIVATE_ONLY_SERVICES)


KNOWN_ENDPOINT_SERVICES = (
    "s3", "ecr.api", "ecr.dkr", "kms", "sagemaker.runtime", "sagemaker.api",
    "sts", "execute-api", "logs",
)

# --------------------------------------------------------------------------- #
# Action families that resource policies deny to everyone not entitled to them.

# Every way to read, change or remove object data or learn object names; denied
# to all principals a verb does not entitle, whatever their IAM policies say.
S3_OBJECT_DATA_ACTIONS = (
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent",
    "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes", "s3:RestoreObject",
    "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
    "s3:DeleteObject", "s3:DeleteObjectVersion",
)
S3_BUCKET_DATA_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")

# Changes to a bucket's perimeter: only the bucket's admins.
S3_PERIMETER_ACTIONS = (
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl", "s3:PutReplicationConfiguration", "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning",
    "s3:PutBucketOwnershipControls", "s3:PutLifecycleConfiguration", "s3:DeleteBucket",
)
# What a bucket admin's identity policy grants: configuration, never data.
S3_ADMIN_ACTIONS = (
    "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus",
    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration",
    "s3:GetBucketVersioning", "s3:PutBucketVersioning",
    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
    "s3:GetBucketTagging", "s3:PutBucketTagging", "s3:GetBucketAcl", "s3:GetBucketLocation",
    "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
)
S3_BYPASS_GOVERNANCE = "s3:BypassGovernanceRetention"
# Breakglass: bypass governance retention and delete object versions; nothing else.
S3_BREAKGLASS_ACTIONS = (S3_BYPASS_GOVERNANCE, "s3:DeleteObjectVersion")

KMS_CRYPTO_ACTIONS = (
    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant",
)
# Key administration without any cryptographic use (CreateGrant excluded: a grant
# could hand its creator Decrypt).
KMS_ADMIN_ACTIONS = (
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ListKeyPolicies",
    "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
    "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    "kms:ListGrants", "kms:RevokeGrant",
)

ECR_IMAGE_ACTIONS = tuple(a for a, s in VERBS[("repository", "push")].actions if s == REPOSITORY) + (
    "ecr:BatchDeleteImage",
)
ECR_PERIMETER_ACTIONS = (
    "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:DeleteRepository",
    "ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration", "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
)
ECR_ADMIN_ACTIONS = (
    "ecr:DescribeRepositories", "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy", "ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration",
    "ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy", "ecr:ListTagsForResource",
    "ecr:TagResource", "ecr:UntagResource",
)


# --------------------------------------------------------------------------- #
# The asset-kind table: what each kind of asset is in AWS terms

SELF, PARTS, SELF_OR_PARTS = "self", "parts", "self-or-parts"  # which ARNs a request names it by


@dataclass(frozen=True)
class AssetKind:
    name: str  # the .slp keyword's kind, `Asset.kind`
    word: str  # what messages call it
    service: str  # the IAM service prefix of its actions
    endpoints: tuple[str, ...]  # the VPC endpoint services its requests arrive through
    reach: str  # SELF: its own ARN; PARTS: ARNs below it (`arn/...`); SELF_OR_PARTS: both
    admin_actions: tuple[str, ...] = ()  # what its admins may do to it
    data_actions: tuple[str, ...] = ()  # every action a grant on it can give
    lock_actions: tuple[str, ...] = ()  # the configuration its resource policy guards

    def names(self, arn: str, resource: str) -> bool:
        """Does a request on `resource` fall on the asset whose ARN is `arn`?"""
        return ((self.reach != PARTS and resource == arn)
                or (self.reach != SELF and resource.startswith(arn + "/")))


ASSET_KINDS: dict[str, AssetKind] = {k.name: k for k in (
    AssetKind("bucket", "bucket", "s3", ("s3",), SELF_OR_PARTS, S3_ADMIN_ACTIONS,
              S3_OBJECT_DATA_ACTIONS + S3_BUCKET_DATA_ACTIONS, S3_PERIMETER_ACTIONS + (S3_BYPASS_GOVERNANCE,)),
    # a repository needs both ECR endpoints: the API (tokens) and the Docker registry (layers)
    AssetKind("repository", "repository", "ecr", ("ecr.api", "ecr.dkr"), SELF, ECR_ADMIN_ACTIONS,
              ECR_IMAGE_ACTIONS, ECR_PERIMETER_ACTIONS),
    AssetKind("endpoint", "endpoint", "sagemaker", ("sagemaker.runtime",), SELF,  # a SageMaker endpoint
              data_actions=VERBS[("endpoint", "invoke")].actions_with(ENDPOINT)),
    AssetKind("api", "endpoint", "execute-api", ("execute-api",), PARTS,  # an API Gateway stage
              data_actions=VERBS[("api", "invoke")].actions_with(API)),
)}

# VPC endpoint services through which each asset kind is reached.
ASSET_SERVICES: dict[str, tuple[str, ...]] = {k.name: k.endpoints for k in ASSET_KINDS.values()}


def kinds_reached_through(service: str) -> tuple[str, ...]:
    """The asset kinds whose requests arrive through a VPC endpoint of this service."""
    return tuple(k for k, services in ASSET_SERVICES.items() if service in services)


# Endpoint services whose endpoints slpc writes a policy for (KMS: key administration).
POLICED_ENDPOINT_SERVICES = tuple(sorted({s for ss in ASSET_SERVICES.values() for s in ss} | {"kms"}))

# What an API stage's integration role may do on its backend: API Gateway's AWS integration
# makes one synchronous call per request (docs/language.md#api-stages-in-front-of-a-sagemaker-endpoint);
# asynchronous invocation reads its input from S3, and streamed responses are not what an AWS
# integration relays, so neither is given.
INTEGRATION_ACTIONS = ("sagemaker:InvokeEndpoint",)
