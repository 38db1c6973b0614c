"""The artifact-kind table: what each kind of output document is to the stages that
read it, so none of them switches on a kind string of its own."""

from __future__ import annotations

# How the offline validator (and Access Analyzer's ValidatePolicy) reads each policy
# kind: (policy type, resource type). Settings documents are not policies: absent.
LINT_TYPES = {
    "iam-identity-policy": ("identity", None),
    "iam-managed-policy": ("identity", None),
    "s3-bucket-policy": ("resource", "AWS::S3::Bucket"),
    "kms-key-policy": ("resource", "AWS::KMS::Key"),
    "ecr-repository-policy": ("resource", "AWS::ECR::Repository"),
    "apigateway-resource-policy": ("resource", "AWS::ApiGateway::RestApi"),
    "vpc-endpoint-policy": ("vpc-endpoint", None),
    "scp": ("scp", None),
    "rcp": ("rcp", None),
}
