"""The artifact-kind table: what each kind of policy document is to the stages that
read it (which side of AWS's evaluation it sits on, how it is validated), so that
the evaluator, the prover, the offline validator, the IaC targets and the report
read one table instead of keeping kind strings of their own. Size rules are in `limits.RULES`,
keyed by the same names; settings documents (bucket settings, trail selectors,
rules) are not policies and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where a policy sits in AWS's evaluation.
IDENTITY, RESOURCE, ENDPOINT, GUARDRAIL = "identity", "resource", "endpoint", "guardrail"


@dataclass(frozen=True)
class PolicyKind:
    name: str  # the manifest's `kind`
    side: str  # IDENTITY | RESOURCE | ENDPOINT | GUARDRAIL
    lint_type: str  # `slpc lint-policy --type` (Access Analyzer's policy type)
    resource_type: str | None  # Access Analyzer's validatePolicyResourceType, where it takes one
    terraform: str  # the Terraform resource that applies it
    cloudformation: str  # the CloudFormation resource type that carries it
    applied: str  # the AWS API call that applies it (what `slpc validate` reads back is its Get...)


KINDS: dict[str, PolicyKind] = {k.name: k for k in (
    PolicyKind("iam-identity-policy", IDENTITY, "identity", None, "aws_iam_role_policy", "AWS::IAM::RolePolicy",
               "iam:PutRolePolicy"),
    # a role's policies split when they do not fit inline
    PolicyKind("iam-managed-policy", IDENTITY, "identity", None, "aws_iam_policy", "AWS::IAM::ManagedPolicy",
               "iam:CreatePolicy, iam:AttachRolePolicy"),
    # a role's trust policy: its resource policy for STS, applied with the role itself
    PolicyKind("iam-role-trust-policy", RESOURCE, "resource", "AWS::IAM::AssumeRolePolicyDocument", "aws_iam_role",
               "AWS::IAM::Role", "iam:UpdateAssumeRolePolicy"),
    PolicyKind("s3-bucket-policy", RESOURCE, "resource", "AWS::S3::Bucket", "aws_s3_bucket_policy",
               "AWS::S3::BucketPolicy", "s3:PutBucketPolicy"),
    # the policy of an access point slpc creates for one grantee of a bucket reached through them
    PolicyKind("s3-access-point-policy", RESOURCE, "resource", "AWS::S3::AccessPoint", "aws_s3_access_point",
               "AWS::S3::AccessPoint", "s3control:CreateAccessPoint, s3control:PutAccessPointPolicy"),
    PolicyKind("kms-key-policy", RESOURCE, "resource", "AWS::KMS::Key", "aws_kms_key_policy", "AWS::KMS::Key",
               "kms:PutKeyPolicy"),
    PolicyKind("ecr-repository-policy", RESOURCE, "resource", "AWS::ECR::Repository", "aws_ecr_repository_policy",
               "AWS::ECR::Repository", "ecr:SetRepositoryPolicy"),
    PolicyKind("apigateway-resource-policy", RESOURCE, "resource", "AWS::ApiGateway::RestApi",
               "aws_api_gateway_rest_api_policy", "AWS::ApiGateway::RestApi", "apigateway:UpdateRestApi"),
    PolicyKind("vpc-endpoint-policy", ENDPOINT, "vpc-endpoint", None, "aws_vpc_endpoint_policy",
               "AWS::EC2::VPCEndpoint", "ec2:ModifyVpcEndpoint"),
    PolicyKind("scp", GUARDRAIL, "scp", None, "aws_organizations_policy", "AWS::Organizations::Policy",
               "organizations:CreatePolicy, organizations:AttachPolicy"),
    PolicyKind("rcp", GUARDRAIL, "rcp", None, "aws_organizations_policy", "AWS::Organizations::Policy",
               "organizations:CreatePolicy, organizations:AttachPolicy"),
)}


def of_side(side: str) -> frozenset[str]:
    return frozenset(k.name for k in KINDS.values() if k.side == side)


# How the offline validator (and ValidatePolicy) reads each policy kind.
LINT_TYPES = {k.name: (k.lint_type, k.resource_type) for k in KINDS.values()}
IDENTITY_KINDS = of_side(IDENTITY)
RESOURCE_KINDS = of_side(RESOURCE)
GUARDRAIL_KINDS = of_side(GUARDRAIL)


@dataclass(frozen=True)
class SettingsKind:
    """An artifact that is not a policy but the configuration of a resource slpc creates."""

    name: str  # the manifest's `kind`
    terraform: tuple[str, ...]  # the Terraform resources that apply it
    cloudformation: tuple[str, ...]  # the CloudFormation resource types that carry it
    applied: str  # the AWS API calls that apply it
    read: str  # what `slpc validate` reads back (read-only)


# The security groups of a network (compiler/security_groups.py, docs/manifest.md).
_SG_TF = ("aws_security_group", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
_SG_APPLY = "ec2:CreateSecurityGroup, ec2:AuthorizeSecurityGroupIngress, ec2:AuthorizeSecurityGroupEgress"
_SG_READ = "ec2:DescribeSecurityGroups, ec2:DescribeSecurityGroupRules"
SETTINGS_KINDS: dict[str, SettingsKind] = {k.name: k for k in (
    SettingsKind("ec2-endpoint-security-group", _SG_TF + ("aws_vpc_endpoint_security_group_association",),
                 ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"),
                 _SG_APPLY + ", ec2:ModifyVpcEndpoint", _SG_READ),
    SettingsKind("ec2-workload-security-group", _SG_TF,
                 ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"),
                 _SG_APPLY, _SG_READ),
    # The VPC flow logs and their destination (compiler/flow_logs.py, docs/manifest.md).
    SettingsKind("ec2-flow-log", ("aws_flow_log",), ("AWS::EC2::FlowLog",), "ec2:CreateFlowLogs",
                 "ec2:DescribeFlowLogs"),
    SettingsKind("logs-flow-log-destination", ("aws_cloudwatch_log_group", "aws_iam_role", "aws_iam_role_policy"),
                 ("AWS::Logs::LogGroup", "AWS::IAM::Role"),
                 "logs:CreateLogGroup, logs:PutRetentionPolicy, iam:CreateRole, iam:PutRolePolicy",
                 "logs:DescribeLogGroups"),
)}
SECURITY_GROUP_KINDS = frozenset({"ec2-endpoint-security-group", "ec2-workload-security-group"})
FLOW_LOG_KINDS = frozenset({"ec2-flow-log", "logs-flow-log-destination"})
