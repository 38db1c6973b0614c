"""Bucket settings that complete the perimeter, each as its own artifact, shaped
like the S3 API input that applies it (PutBucketEncryption, PutPublicAccessBlock,
PutBucketVersioning, PutBucketOwnershipControls, PutObjectLockConfiguration).

All are on by default with the safe value; the spec only chooses the key and the
Object Lock mode and period.
"""

from __future__ import annotations

from slpc.compiler.model import Asset, Model
from .artifact import Artifact


def settings(model: Model, asset: Asset) -> list[tuple[str, str, dict]]:
    """(kind, file stem, API input) for one bucket."""
    bucket = asset.resource_name
    out = [
        ("s3-bucket-encryption", "encryption", {
            "Bucket": bucket,
            "ServerSideEncryptionConfiguration": {"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                       "KMSMasterKeyID": model.keys[asset.key].arn},
                "BucketKeyEnabled": True,
            }]},
        }),
        ("s3-public-access-block", "public-access-block", {
            "Bucket": bucket,
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                               "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        }),
        # Object Lock needs versioning; versioning also keeps overwritten weights recoverable.
        ("s3-versioning", "versioning", {"Bucket": bucket, "VersioningConfiguration": {"Status": "Enabled"}}),
        ("s3-ownership-controls", "ownership-controls", {
            "Bucket": bucket, "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        }),
    ]
    if asset.object_lock:
        mode, days = asset.object_lock
        out.append(("s3-object-lock", "object-lock", {
            "Bucket": bucket,
            "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled",
                                        "Rule": {"DefaultRetention": {"Mode": mode.upper(), "Days": days}}},
        }))
    return out


def bucket_setting_artifacts(model: Model):
    arts = []
    for asset in model.assets_of("bucket"):
        for kind, stem, data in settings(model, asset):
            arts.append(Artifact(kind, asset.arn, asset.account, f"s3/{asset.name}/{stem}.json", asset.name,
                                 settings=data))
    return arts, []
