"""A local AWS endpoint (moto's server) and a small deployment applied to it.

`LIVE_SPEC` is one account (moto's 123456789012) with a bucket under Object Lock
and audited data events, a plain bucket, a key, roles (three of which state who may
obtain them: a service, GitHub Actions, IAM Identity Center), a repository, a private
REST API and VPC endpoints, plus the default organization guardrails (SCP, RCP).
moto cannot create a key, endpoint or API with a chosen id, so the spec is
compiled after the resources exist, with their real ids substituted (`{key_arn}`,
`{vpce}`, `{api}`...). The trail, the organization and the GuardDuty detector are
created too; `apply` writes what slpc compiled into them.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"  # a second moto account, selected by the x-moto-account-id header
REGION = "eu-central-1"

LIVE_SPEC = '''deployment "live" {{
  account "123456789012"
  regions ["eu-central-1"]
}}
network prod_vpc {{
  vpc "{vpc}"
  endpoint s3      "{vpce}"
  endpoint ecr.api "{vpce_ecr_api}"
  endpoint ecr.dkr "{vpce_ecr_dkr}"
  endpoint execute-api "{vpce_api}"
}}
network corp_office {{
  cidr "198.51.100.0/24"
}}
role trainer "arn:aws:iam::123456789012:role/llm-trainer" {{
  assumed_by service sagemaker
  passed_by  deployer to sagemaker
  admins     [security_admin]
}}
role deployer "arn:aws:iam::123456789012:role/llm-ci-deployer" {{
  assumed_by github "acme/llm-platform" environment "production"
  admins     [security_admin]
  session    1 hours
}}
role security_admin "arn:aws:iam::123456789012:role/security-admin" {{
  assumed_by identity_center "SecurityAdmin"
  admins     [breakglass]
}}
role inference      "arn:aws:iam::123456789012:role/llm-inference"
role breakglass     "arn:aws:iam::123456789012:role/security-breakglass"
key model_key {{
  arn    "{key_arn}"
  admins [security_admin]
}}
bucket weights {{
  name        "live-llm-weights"
  encrypt     model_key
  object_lock governance 30 days
  audit       data_events
  admins      [security_admin]
  breakglass  [breakglass]
}}
bucket finetune_data {{
  name    "live-llm-finetune"
  encrypt model_key
  admins  [security_admin]
}}
repository serving {{
  name   "llm-serving"
  admins [security_admin]
}}
endpoint chat_api {{
  apigateway "{api}"
  stage      "prod"
}}
allow trainer   read  finetune_data          from prod_vpc
allow trainer   write weights "checkpoints/" from prod_vpc
allow inference read  weights "released/"    from prod_vpc
allow inference pull  serving                from prod_vpc
allow deployer  push  serving                from prod_vpc, corp_office
allow inference invoke chat_api              from prod_vpc
'''
TRAIL = "org-trail"

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(account: str = ACCOUNT):
    """A session on moto's `account` (moto 5 reads the `x-moto-account-id` request header)."""
    import boto3
    s = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    if account != ACCOUNT:
        def header(request, **_):
            request.headers["x-moto-account-id"] = account
        s.events.register("before-sign", header)
    return s


# A role of OTHER_ACCOUNT added to LIVE_SPEC: its identity policy lives in the second account.
CROSS_ACCOUNT_ROLE = (f'role auditor "arn:aws:iam::{OTHER_ACCOUNT}:role/llm-auditor"\n'
                      'allow auditor read weights "released/" from prod_vpc\n')


# Added to LIVE_SPEC: a stage of the same API that calls a SageMaker endpoint as its own
# integration role and admits a Cognito pool's users from prod_vpc ({api}: moto's API id).
API_STAGE_WITH_BACKEND = '''role chat_gateway "arn:aws:iam::123456789012:role/llm-chat-gateway" {{
  assumed_by service apigateway
  passed_by  deployer to apigateway
  admins     [security_admin]
}}
endpoint chat_model {{
  sagemaker "llm-chat-prod"
}}
endpoint chat_web {{
  apigateway       "{api}"
  stage            "web"
  backend          chat_model
  integration_role chat_gateway
  authorizer cognito "arn:aws:cognito-idp:eu-central-1:123456789012:userpool/eu-central-1_AbCdEf123" scopes ["chat-api/invoke"] from prod_vpc
}}
'''


@dataclass
class Live:
    url: str
    key_arn: str
    vpc: str
    vpce: str
    spec: str

    def client(self, service: str, account: str = ACCOUNT):
        from slpc.verify.live.fetch import keep_local_host
        client = session(account).client(service, endpoint_url=self.url, region_name=REGION)
        keep_local_host(client, self.url)  # S3 Control: moto answers on its own address
        return client


def create_resources(url: str) -> Live:
    """The spec's resources, unconfigured; returns the spec text with moto's ids."""
    s = session()
    c = lambda svc: s.client(svc, endpoint_url=url, region_name=REGION)  # noqa: E731
    key_arn = c("kms").create_key(Description="slpc live test")["KeyMetadata"]["Arn"]
    ec2 = c("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                   VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]
    ecr_ids = [ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{svc}",
                                       VpcEndpointType="Interface")["VpcEndpoint"]["VpcEndpointId"]
               for svc in ("ecr.api", "ecr.dkr", "execute-api")]
    api = c("apigateway").create_rest_api(name="chat", endpointConfiguration={"types": ["PRIVATE"]})["id"]
    s3 = c("s3")
    loc = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
    s3.create_bucket(Bucket="live-llm-weights", ObjectLockEnabledForBucket=True, **loc)
    s3.create_bucket(Bucket="live-llm-finetune", **loc)
    iam = c("iam")
    for name in ("llm-trainer", "llm-inference", "llm-ci-deployer", "security-admin", "security-breakglass"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    c("ecr").create_repository(repositoryName="llm-serving")
    s3.create_bucket(Bucket="live-trail-logs", **loc)
    c("cloudtrail").create_trail(Name=TRAIL, S3BucketName="live-trail-logs")
    c("organizations").create_organization(FeatureSet="ALL")
    spec = LIVE_SPEC.format(key_arn=key_arn, vpc=vpc, vpce=vpce, vpce_ecr_api=ecr_ids[0], vpce_ecr_dkr=ecr_ids[1],
                            vpce_api=ecr_ids[2], api=api)
    return Live(url, key_arn, vpc, vpce, spec)


def apply(live: Live, artifacts) -> None:
    """Apply compiled artifacts the way a deployment pipeline would."""
    clients: dict = {}

    for a in artifacts:
        def c(svc, _acct=a.account or ACCOUNT):
            if (svc, _acct) not in clients:
                clients[svc, _acct] = live.client(svc, _acct)
            return clients[svc, _acct]
        s3, iam = c("s3"), c("iam")
        if a.kind == "s3-bucket-policy":
            s3.put_bucket_policy(Bucket=a.target.split(":::")[1], Policy=a.text)
        elif a.kind == "s3-bucket-encryption":
            s3.put_bucket_encryption(**a.settings)
        elif a.kind == "s3-public-access-block":
            s3.put_public_access_block(**a.settings)
        elif a.kind == "s3-versioning":
            s3.put_bucket_versioning(**a.settings)
        elif a.kind == "s3-ownership-controls":
            s3.put_bucket_ownership_controls(**a.settings)
        elif a.kind == "s3-object-lock":
            s3.put_object_lock_configuration(**a.settings)
        elif a.kind == "s3-access-point-policy":
            c("s3control").create_access_point(AccountId=a.account, Name=a.name, Bucket=a.within.split(":::")[1])
            c("s3control").put_access_point_policy(AccountId=a.account, Name=a.name, Policy=a.text)
        elif a.kind == "kms-key-policy":
            c("kms").put_key_policy(KeyId=a.target, PolicyName="default", Policy=a.text)
        elif a.kind == "ecr-repository-policy":
            c("ecr").set_repository_policy(repositoryName=a.target.rsplit("/", 1)[1], policyText=a.text)
        elif a.kind == "iam-role-trust-policy":
            iam.update_assume_role_policy(RoleName=a.target.rsplit("/", 1)[1], PolicyDocument=a.text)
        elif a.kind == "iam-identity-policy":
            iam.put_role_policy(RoleName=a.target.rsplit("/", 1)[1], PolicyName="slpc", PolicyDocument=a.text)
        elif a.kind == "iam-managed-policy":
            role = a.target.rsplit("/", 1)[1]
            name = f"{role}-{a.path.rsplit('/', 1)[1].removesuffix('.json')}"
            arn = iam.create_policy(PolicyName=name, PolicyDocument=a.text)["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        elif a.kind == "vpc-endpoint-policy":
            c("ec2").modify_vpc_endpoint(VpcEndpointId=a.target, PolicyDocument=a.text)
        elif a.kind == "apigateway-resource-policy":
            c("apigateway").update_rest_api(restApiId=a.target.rsplit("/", 1)[1], patchOperations=[
                {"op": "replace", "path": "/policy", "value": a.text}])
        elif a.kind == "cloudtrail-event-selectors":
            c("cloudtrail").put_event_selectors(TrailName=TRAIL, **a.settings)
        elif a.kind == "eventbridge-rule":
            c("events").put_rule(**{**a.settings, "EventPattern": json.dumps(a.settings["EventPattern"])})
        elif a.kind == "guardduty-feature":
            detectors = c("guardduty").list_detectors()["DetectorIds"]
            if detectors:
                c("guardduty").update_detector(DetectorId=detectors[0], Enable=True, **a.settings)
            else:
                c("guardduty").create_detector(Enable=True, **a.settings)
        elif a.kind in ("scp", "rcp"):
            org, ptype = c("organizations"), {"scp": "SERVICE_CONTROL_POLICY", "rcp": "RESOURCE_CONTROL_POLICY"}[a.kind]
            name = f"slpc-live-{a.name}"
            old = [p["Id"] for p in org.list_policies(Filter=ptype)["Policies"] if p["Name"] == name]
            if old:
                org.update_policy(PolicyId=old[0], Content=a.text)
            else:
                org.create_policy(Content=a.text, Name=name, Description=f"slpc {a.path}", Type=ptype)
