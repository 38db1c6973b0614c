"""A model deployment built by hand on moto's server (not by slpc), for `slpc import`.

What an account looks like before slpc: buckets with model files under prefixes, a
public bucket, a bucket shared with another account by its policy, a SageMaker model
and endpoint running as an execution role, a training job, an ECS task definition and a
service running it in a VPC of its own,
ECR repositories (one no workload uses) and KMS keys with AWS's default key policy (one the
models bucket's, one SageMaker's volumes', named by its alias and its key id).
`MODEL_LOCATIONS` is every (bucket, prefix) where model data lives; `TAGGED` is an empty
bucket whose tags say it is for model data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import live_fixtures as L

ACCOUNT, REGION, OTHER_ACCOUNT = L.ACCOUNT, L.REGION, L.OTHER_ACCOUNT

MODELS, FINETUNE, PUBLIC, PARTNER, UNRELATED, TAGGED = ("acme-models", "acme-finetune", "acme-public-share",
                                                        "acme-partner-exchange", "acme-billing-reports", "acme-ml-team")
OBJECTS = {
    MODELS: ["released/v1/model.tar.gz", "released/v1/tokenizer.json", "checkpoints/step-100.pt", "README.md",
             "imports/llama-3-8b/model-00001.safetensors", "imports/llama-3-8b/config.json"],
    FINETUNE: ["train/part-0001.jsonl", "train/part-0002.jsonl"],
    PUBLIC: ["gguf/llama-7b.Q4.gguf"],
    PARTNER: ["exports/model.onnx"],
    UNRELATED: ["2026/11/report.csv"],
    TAGGED: [],  # empty, but tagged as holding model data
}
# (bucket, prefix) of every model location: what the workloads name and what the key names show
MODEL_LOCATIONS = {(MODELS, "released/v1/"), (MODELS, "checkpoints/"), (MODELS, "imports/llama-3-8b/"),
                   (MODELS, "bedrock-output/"), (FINETUNE, "train/"), (FINETUNE, "bedrock/train.jsonl"),
                   (PUBLIC, "gguf/"), (PARTNER, "exports/")}
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{{}}:1"
IRSA_ISSUER = f"oidc.eks.{REGION}.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def _policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions, resources) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


@dataclass
class Account:
    url: str
    key_arn: str
    volume_key_arn: str  # the SageMaker volumes' key (named by its alias and by its key id)
    vpc: str
    subnet: str
    vpces: dict  # service -> id
    web_vpc: str  # the ECS service's VPC, with its subnet and SageMaker runtime endpoint
    web_subnet: str
    web_vpce: str
    cluster_arn: str  # the EKS cluster "chat-eks" (in the models' VPC) and its OIDC issuer
    issuer: str
    pods: list  # pod identity associations: (cluster, namespace, service account, role ARN)
    imports: list  # Bedrock imported models: (name, S3 URI, key ARN, import job role, job subnets)
    roles: dict  # short name -> ARN


def build(url: str) -> Account:
    s = L.session()
    c = lambda svc: s.client(svc, endpoint_url=url, region_name=REGION)  # noqa: E731
    key_arn = c("kms").create_key(Description="models")["KeyMetadata"]["Arn"]
    volume_key = c("kms").create_key(Description="sagemaker volumes")["KeyMetadata"]
    c("kms").create_alias(AliasName="alias/sagemaker-volumes", TargetKeyId=volume_key["KeyId"])
    ec2 = c("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    vpces = {"s3": ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3",
                                          VpcEndpointType="Gateway")["VpcEndpoint"]["VpcEndpointId"]}
    for svc in ("ecr.api", "ecr.dkr", "sagemaker.runtime"):
        vpces[svc] = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{svc}",
                                             VpcEndpointType="Interface")["VpcEndpoint"]["VpcEndpointId"]
    # the chat frontend's ECS service runs in a VPC of its own, which reaches SageMaker through its endpoint
    web_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    web_subnet = ec2.create_subnet(VpcId=web_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    web_vpce = ec2.create_vpc_endpoint(VpcId=web_vpc, ServiceName=f"com.amazonaws.{REGION}.sagemaker.runtime",
                                       VpcEndpointType="Interface")["VpcEndpoint"]["VpcEndpointId"]
    s3 = c("s3")
    for bucket, keys in OBJECTS.items():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3.put_bucket_tagging(Bucket=TAGGED, Tagging={"TagSet": [{"Key": "data-class", "Value": "model-weights"}]})
    s3.put_bucket_tagging(Bucket=UNRELATED, Tagging={"TagSet": [{"Key": "team", "Value": "finance"}]})
    s3.put_bucket_encryption(Bucket=MODELS, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
         "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=PUBLIC, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{PUBLIC}/*"}))
    s3.put_bucket_policy(Bucket=PARTNER, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{PARTNER}", f"arn:aws:s3:::{PARTNER}/*"]}))
    iam = c("iam")
    roles = {}
    for short, name, service in (("inference", "llm-inference", "sagemaker.amazonaws.com"),
                                 ("trainer", "llm-trainer", "sagemaker.amazonaws.com"),
                                 ("frontend", "chat-frontend-task", "ecs-tasks.amazonaws.com")):
        roles[short] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service))["Role"]["Arn"]
    iam.put_role_policy(RoleName="llm-inference", PolicyName="models", PolicyDocument=_policy(
        _allow(["s3:GetObject", "s3:GetObjectVersion"], f"arn:aws:s3:::{MODELS}/*"),
        _allow("s3:ListBucket", f"arn:aws:s3:::{MODELS}"),
        _allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
               f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/llm-serving"),
        _allow("ecr:GetAuthorizationToken", "*")))
    managed = iam.create_policy(PolicyName="trainer-data", PolicyDocument=_policy(
        _allow("s3:*", [f"arn:aws:s3:::{FINETUNE}", f"arn:aws:s3:::{FINETUNE}/*"]),
        _allow(["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
               f"arn:aws:s3:::{MODELS}/checkpoints/*")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="llm-trainer", PolicyArn=managed)
    iam.put_role_policy(RoleName="chat-frontend-task", PolicyName="invoke", PolicyDocument=_policy(
        _allow("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/chat-prod")))
    # EKS: a cluster in the models' VPC; a pod identity role that reads released models; an IRSA
    # role of a real-shaped issuer (no cluster found for it) that lists checkpoints; an IRSA role of
    # the cluster's own issuer that admits a pattern; an add-on's IRSA role that touches no model data
    cluster = c("eks").create_cluster(name="chat-eks", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
                                      resourcesVpcConfig={"subnetIds": [subnet]})["cluster"]
    issuer = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    pods_trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
         "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
    roles["indexer"] = iam.create_role(RoleName="rag-indexer", AssumeRolePolicyDocument=pods_trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="rag-indexer", PolicyName="models", PolicyDocument=_policy(
        _allow("s3:GetObject", f"arn:aws:s3:::{MODELS}/released/*")))
    for name, sub_issuer, operator, sub, statements in (
            ("eval-harness", IRSA_ISSUER, "StringEquals", "system:serviceaccount:eval:harness",
             [_allow("s3:ListBucket", f"arn:aws:s3:::{MODELS}")]),
            ("notebooks", issuer, "StringLike", "system:serviceaccount:notebooks:*",
             [_allow("s3:GetObject", f"arn:aws:s3:::{FINETUNE}/*")]),
            ("ebs-csi-driver", issuer, "StringEquals", "system:serviceaccount:kube-system:ebs-csi-controller-sa",
             [_allow("ec2:CreateVolume", "*")])):
        provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{sub_issuer}"
        condition = {"StringEquals": {f"{sub_issuer}:aud": "sts.amazonaws.com"}}
        condition.setdefault(operator, {})[f"{sub_issuer}:sub"] = sub
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition}]}
        roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=_policy(*statements))
    # Bedrock: roles that import and fine-tuning jobs run as, held to the account by the confused-deputy key
    bedrock_trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]})
    roles["importer"] = iam.create_role(RoleName="bedrock-import",
                                        AssumeRolePolicyDocument=bedrock_trust)["Role"]["Arn"]
    roles["finetuner"] = iam.create_role(RoleName="bedrock-finetune",
                                         AssumeRolePolicyDocument=bedrock_trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="bedrock-finetune", PolicyName="data", PolicyDocument=_policy(
        _allow("s3:GetObject", f"arn:aws:s3:::{FINETUNE}/bedrock/*"),
        _allow("s3:PutObject", f"arn:aws:s3:::{MODELS}/bedrock-output/*")))
    c("bedrock").create_model_customization_job(
        jobName="llama-ft-1", customModelName="llama-ft", roleArn=roles["finetuner"],
        baseModelIdentifier=f"arn:aws:bedrock:{REGION}::foundation-model/meta.llama3-8b-instruct-v1:0",
        trainingDataConfig={"s3Uri": f"s3://{FINETUNE}/bedrock/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{MODELS}/bedrock-output/"}, hyperParameters={"epochCount": "1"},
        vpcConfig={"subnetIds": [subnet], "securityGroupIds": ["sg-0123456789abcdef0"]})
    iam.put_role_policy(RoleName="bedrock-import", PolicyName="imports", PolicyDocument=_policy(
        _allow("s3:GetObject", f"arn:aws:s3:::{MODELS}/imports/*"), _allow("s3:ListBucket", f"arn:aws:s3:::{MODELS}")))
    ecr = c("ecr")
    for repo in ("llm-serving", "chat-frontend", "unused-experiments"):
        ecr.create_repository(repositoryName=repo)
    sm = c("sagemaker")
    sm.create_model(ModelName="chat-v1", ExecutionRoleArn=roles["inference"],
                    PrimaryContainer={"Image": IMAGE.format("llm-serving"),
                                      "ModelDataUrl": f"s3://{MODELS}/released/v1/model.tar.gz"},
                    VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [subnet]})
    sm.create_endpoint_config(EndpointConfigName="chat-prod-config", ProductionVariants=[
        {"VariantName": "main", "ModelName": "chat-v1", "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}],
        KmsKeyId=volume_key["KeyId"])
    sm.create_endpoint(EndpointName="chat-prod", EndpointConfigName="chat-prod-config")
    sm.create_training_job(
        TrainingJobName="finetune-1", RoleArn=roles["trainer"],
        AlgorithmSpecification={"TrainingImage": IMAGE.format("llm-serving"), "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{FINETUNE}/train/"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{MODELS}/checkpoints/", "KmsKeyId": key_arn},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50,
                        "VolumeKmsKeyId": "alias/sagemaker-volumes"},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [subnet]})
    ecs = c("ecs")
    frontend = ecs.register_task_definition(family="chat-frontend", taskRoleArn=roles["frontend"],
                                            networkMode="awsvpc", containerDefinitions=[
        {"name": "web", "image": IMAGE.format("chat-frontend"), "memory": 512}])["taskDefinition"]
    ecs.create_cluster(clusterName="chat")
    web_group = ec2.create_security_group(GroupName="chat-web", Description="chat web tasks",
                                          VpcId=web_vpc)["GroupId"]
    ecs.create_service(cluster="chat", serviceName="web", taskDefinition=frontend["taskDefinitionArn"],
                       desiredCount=1, networkConfiguration={"awsvpcConfiguration": {
                           "subnets": [web_subnet], "securityGroups": [web_group]}})
    return Account(url, key_arn, volume_key["Arn"], vpc, subnet, vpces, web_vpc, web_subnet, web_vpce,
                   cluster["arn"], cluster["identity"]["oidc"]["issuer"].removeprefix("https://"),
                   [("chat-eks", "chat", "rag-indexer", roles["indexer"])],
                   [("llama-3-8b-ft", f"s3://{MODELS}/imports/llama-3-8b/", key_arn, roles["importer"], [subnet])],
                   roles)


# --------------------------------------------------------------------------- #
# What moto does not implement, answered as the API would from the account's state


def session(acct: Account):
    """A session on moto whose EKS pod identity and Bedrock model import calls (not in moto)
    answer from `acct.pods` and `acct.imports`.

    The answers are the account's data, not results the API computes; each one is held to
    the operation's output shape in botocore's model (as botocore's Stubber does), and
    the request to its input shape (botocore validates parameters before sending)."""
    s = L.session()
    by_id = {f"a-{i:017d}": p for i, p in enumerate(acct.pods)}

    def arn(aid, cluster):
        return f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/{cluster}/{aid}"

    def summary(aid, cluster, ns, sa, role):
        return {"clusterName": cluster, "namespace": ns, "serviceAccount": sa, "associationArn": arn(aid, cluster),
                "associationId": aid}

    def list_(params):
        return {"associations": [summary(aid, *p) for aid, p in sorted(by_id.items())
                                 if p[0] == params["clusterName"]]}

    def describe(params):
        aid = params["associationId"]
        if aid not in by_id or by_id[aid][0] != params["clusterName"]:
            return None
        return {"association": {**summary(aid, *by_id[aid]), "roleArn": by_id[aid][3]}}
    answer(s, "eks", "ListPodIdentityAssociations", list_)
    answer(s, "eks", "DescribePodIdentityAssociation", describe)
    _bedrock_imports(s, acct.imports)
    return s


def _bedrock_imports(s, imports) -> None:
    """Bedrock's imported models and their import jobs (not in moto), from `imports`."""
    base = f"arn:aws:bedrock:{REGION}:{ACCOUNT}"
    models = {f"{base}:imported-model/{name}": (name, *rest) for name, *rest in imports}
    created = "2026-11-01T00:00:00Z"

    def job_arn(name):
        return f"{base}:model-import-job/{name}-import"

    def find(identifier):
        return next(((arn, m) for arn, m in models.items() if identifier in (arn, m[0])), (None, None))

    def model(params):
        arn, m = find(params["modelIdentifier"])
        return m and {"modelArn": arn, "modelName": m[0], "jobName": f"{m[0]}-import", "jobArn": job_arn(m[0]),
                      "modelDataSource": {"s3DataSource": {"s3Uri": m[1]}}, "modelKmsKeyArn": m[2],
                      "creationTime": created}

    def job(params):
        arn, m = next(((a, m) for a, m in models.items() if job_arn(m[0]) == params["jobIdentifier"]), (None, None))
        return m and {"jobArn": job_arn(m[0]), "jobName": f"{m[0]}-import", "importedModelName": m[0],
                      "importedModelArn": arn, "roleArn": m[3], "status": "Completed", "creationTime": created,
                      "modelDataSource": {"s3DataSource": {"s3Uri": m[1]}}, "importedModelKmsKeyArn": m[2],
                      "vpcConfig": {"subnetIds": m[4], "securityGroupIds": ["sg-0123456789abcdef0"]}}
    answer(s, "bedrock", "ListImportedModels", lambda _: {"modelSummaries": [
        {"modelArn": arn, "modelName": m[0], "creationTime": created} for arn, m in sorted(models.items())]})
    answer(s, "bedrock", "GetImportedModel", model)
    answer(s, "bedrock", "GetModelImportJob", job)


def answer(s, service: str, operation: str, respond) -> None:
    """Answer `operation` on the session's clients of REGION with `respond(params)`: a response
    dict, or None for ResourceNotFoundException; in other regions, empty lists or not found."""
    from botocore.awsrequest import AWSResponse
    from botocore.validate import ParamValidator

    def keep(params, context, **_):
        context["api_params"] = dict(params)

    def reply(model, context, request_signer, **_):
        parsed = respond(context["api_params"]) if request_signer.region_name == REGION else {}
        if parsed == {}:  # the account has nothing of the kind in another region
            parsed = {m: [] for m, shape in model.output_shape.members.items() if shape.type_name == "list"} or None
        if parsed is None:
            return AWSResponse("", 404, {}, None), {"Error": {"Code": "ResourceNotFoundException",
                                                              "Message": "not found"}}
        report = ParamValidator().validate(parsed, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        return AWSResponse("", 200, {}, None), parsed
    s.events.register(f"before-parameter-build.{service}.{operation}", keep)
    s.events.register(f"before-call.{service}.{operation}", reply)
