"""Read a live account's model assets into an `Inventory`, strictly read-only.

Every call goes through `Fetcher.call` / `Fetcher.pages` (Get / List / Describe
only, every page), so a resource that cannot be read is a `Problem` in the
inventory, never a crash; only run-wide failures (credentials, endpoint) raise
`LiveConfigError`. Per-resource reads run in a small thread pool. Bucket contents
are judged by a bounded sample of key names: no object is ever read.
"""

from __future__ import annotations

import re
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .fetch import Fetcher, LiveConfigError, Read, _document
from . import eks, inventory as I

WORKERS = 8
SAMPLE_KEYS = 1000  # keys listed per bucket (one ListObjectsV2 page), never more
MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".ckpt", "model.tar.gz")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
MODEL_WORDS = re.compile(r"model|weight|checkpoint|llm")
# VPC endpoint service names (com.amazonaws.REGION.SERVICE) -> the spec's endpoint service
ENDPOINT_SERVICES = ("s3", "ecr.api", "ecr.dkr", "kms", "sagemaker.runtime", "sagemaker.api", "sts",
                     "execute-api", "logs")
IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")

Progress = Callable[[int, int], None]


def looks_like_model(key: str) -> bool:
    base = key.rsplit("/", 1)[-1]
    return key.endswith(MODEL_SUFFIXES) or base in TOKENIZER_FILES


def split_s3(uri: str) -> tuple[str, str] | None:
    """(bucket, key or prefix) of `s3://bucket/key`, None for anything else."""
    if not uri.startswith("s3://"):
        return None
    bucket, _, rest = uri[5:].partition("/")
    return (bucket, rest) if bucket else None


def directory(key: str) -> str:
    """The folder of an object key ("" at the root), the prefix a grant on it names."""
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def image_repository(uri: str) -> tuple[str, str, str] | None:
    """(account, region, repository name) of an ECR image URI."""
    m = IMAGE.match(uri)
    return (m.group(1), m.group(2), m.group(3)) if m else None


class Discovery:
    """One run of `slpc import`'s reading: `run()` returns the Inventory."""

    def __init__(self, fetcher: Fetcher, account: str, regions: tuple[str, ...], others: dict | None = None,
                 progress: Progress | None = None, workers: int = WORKERS):
        self.f, self.account, self.regions = fetcher, account, regions
        self.others = others or {}
        self.progress, self.workers = progress, workers
        self.problems: list[I.Problem] = []
        self._done = self._total = 0

    # -- plumbing ----------------------------------------------------------- #
    def _value(self, read: Read, resource: str, default=None):
        if read.value is None:
            if read.problem:
                self.problems.append(I.Problem(resource, read.problem.removeprefix("cannot verify: ")))
            return default
        return read.value

    def _map(self, fn, items: list) -> list:
        """fn over items in the pool, its answers in the items' order, progress after each; an
        item without an answer (None: not found, refused, or an answer without the fields AWS
        documents, recorded as a problem of that item rather than a crash) is left out."""
        items = list(items)
        self._total += len(items)

        def guarded(item):
            try:
                return fn(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problems.append(I.Problem(str(item), f"malformed answer from AWS ({type(exc).__name__}: {exc})"))
                return None
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(guarded, x) for x in items]
            out = []
            for fut in futures:
                if (result := fut.result()):
                    out.append(result)
                self._done += 1
                if self.progress and self._done < self._total:  # the total grows: one newline, at the end
                    self.progress(self._done, self._total)
        return out

    # -- workloads ---------------------------------------------------------- #
    def _sagemaker_models(self, region: str) -> list[I.Workload]:
        names = self._value(self.f.pages("sagemaker", "list_models", "sagemaker:ListModels", {}, "Models",
                                         "NextToken", region), f"sagemaker models in {region}", [])

        def one(name: str) -> I.Workload | None:
            d = self._value(self.f.call("sagemaker", "describe_model", "sagemaker:DescribeModel",
                                        {"ValidationException": "no such model"}, region, ModelName=name),
                            f"sagemaker model {name}")
            if d is None:
                return None
            containers = [d["PrimaryContainer"]] if d.get("PrimaryContainer") else []
            containers += d.get("Containers") or []
            uris = [c.get("ModelDataUrl") for c in containers]
            uris += [(c.get("ModelDataSource") or {}).get("S3DataSource", {}).get("S3Uri") for c in containers]
            return I.Workload(I.SAGEMAKER_MODEL, name, region, roles=tuple(filter(None, [d.get("ExecutionRoleArn")])),
                              images=tuple(sorted({c["Image"] for c in containers if c.get("Image")})),
                              model_uris=tuple(sorted(set(filter(None, uris)))),
                              subnets=tuple(sorted((d.get("VpcConfig") or {}).get("Subnets") or ())))
        return self._map(one, sorted(m["ModelName"] for m in names))

    def _training_jobs(self, region: str) -> list[I.Workload]:
        jobs = self._value(self.f.pages("sagemaker", "list_training_jobs", "sagemaker:ListTrainingJobs", {},
                                        "TrainingJobSummaries", "NextToken", region),
                           f"sagemaker training jobs in {region}", [])

        def one(name: str) -> I.Workload | None:
            d = self._value(self.f.call("sagemaker", "describe_training_job", "sagemaker:DescribeTrainingJob",
                                        {"ValidationException": "no such training job"}, region,
                                        TrainingJobName=name), f"sagemaker training job {name}")
            if d is None:
                return None
            inputs = [(c.get("DataSource") or {}).get("S3DataSource", {}).get("S3Uri")
                      for c in d.get("InputDataConfig") or []]
            outputs = [(d.get("OutputDataConfig") or {}).get("S3OutputPath"),
                       (d.get("CheckpointConfig") or {}).get("S3Uri")]
            image = (d.get("AlgorithmSpecification") or {}).get("TrainingImage")
            keys = [((d.get("ResourceConfig") or {}).get("VolumeKmsKeyId"), "volume"),
                    ((d.get("OutputDataConfig") or {}).get("KmsKeyId"), "output")]
            return I.Workload(I.TRAINING_JOB, name, region, roles=tuple(filter(None, [d.get("RoleArn")])),
                              keys=tuple(sorted((k, what) for k, what in keys if k)),
                              images=tuple(filter(None, [image])), data_uris=tuple(sorted(set(filter(None, inputs)))),
                              output_uris=tuple(sorted(set(filter(None, outputs)))),
                              subnets=tuple(sorted((d.get("VpcConfig") or {}).get("Subnets") or ())))
        return self._map(one, sorted(j["TrainingJobName"] for j in jobs))

    def _model_packages(self, region: str) -> list[I.Workload]:
        pkgs = self._value(self.f.pages("sagemaker", "list_model_packages", "sagemaker:ListModelPackages", {},
                                        "ModelPackageSummaryList", "NextToken", region),
                           f"sagemaker model packages in {region}", [])

        def one(arn: str) -> I.Workload | None:
            d = self._value(self.f.call("sagemaker", "describe_model_package", "sagemaker:DescribeModelPackage",
                                        {"ValidationException": "no such model package"}, region,
                                        ModelPackageName=arn), f"sagemaker model package {arn}")
            if d is None:
                return None
            containers = (d.get("InferenceSpecification") or {}).get("Containers") or []
            return I.Workload(I.MODEL_PACKAGE, arn.rsplit("/", 1)[-1] if "/" in arn else arn, region,
                              images=tuple(sorted({c["Image"] for c in containers if c.get("Image")})),
                              model_uris=tuple(sorted({c["ModelDataUrl"] for c in containers
                                                       if c.get("ModelDataUrl")})))
        return self._map(one, sorted(p["ModelPackageArn"] for p in pkgs))

    def _endpoints(self, region: str) -> list[I.Workload]:
        eps = self._value(self.f.pages("sagemaker", "list_endpoints", "sagemaker:ListEndpoints", {}, "Endpoints",
                                       "NextToken", region), f"sagemaker endpoints in {region}", [])

        def one(name: str) -> I.Workload | None:
            d = self._value(self.f.call("sagemaker", "describe_endpoint", "sagemaker:DescribeEndpoint",
                                        {"ValidationException": "no such endpoint"}, region, EndpointName=name),
                            f"sagemaker endpoint {name}")
            if d is None:
                return None
            cfg = self._value(self.f.call("sagemaker", "describe_endpoint_config",
                                          "sagemaker:DescribeEndpointConfig",
                                          {"ValidationException": "no such endpoint config"}, region,
                                          EndpointConfigName=d["EndpointConfigName"]),
                              f"sagemaker endpoint config {d['EndpointConfigName']}", {})
            models = tuple(sorted({v["ModelName"] for v in cfg.get("ProductionVariants") or [] if v.get("ModelName")}))
            return I.Workload(I.SAGEMAKER_ENDPOINT, name, region, models=models,
                              keys=((cfg["KmsKeyId"], "volume"),) if cfg.get("KmsKeyId") else ())
        return self._map(one, sorted(e["EndpointName"] for e in eps))

    def _bedrock_imports(self, region: str) -> list[I.Workload]:
        """Each Bedrock imported model: the S3 folder it was imported from, its key, and the
        role and subnets of the import job that read it."""
        models = self._value(self.f.pages("bedrock", "list_imported_models", "bedrock:ListImportedModels", {},
                                          "modelSummaries", "nextToken", region),
                             f"bedrock imported models in {region}", [])
        gone = {"ResourceNotFoundException": "no such imported model"}

        def one(arn: str) -> I.Workload | None:
            m = self._value(self.f.call("bedrock", "get_imported_model", "bedrock:GetImportedModel", gone, region,
                                        modelIdentifier=arn), f"bedrock imported model {arn}")
            if m is None:
                return None
            job = self._value(self.f.call("bedrock", "get_model_import_job", "bedrock:GetModelImportJob",
                                          {"ResourceNotFoundException": "no such import job"}, region,
                                          jobIdentifier=m["jobArn"]), f"bedrock model import job {m['jobArn']}",
                              {}) if m.get("jobArn") else {}
            uri = ((m.get("modelDataSource") or {}).get("s3DataSource") or {}).get("s3Uri")
            return I.Workload(I.BEDROCK_IMPORT, m["modelName"], region, roles=tuple(filter(None, [job.get("roleArn")])),
                              model_uris=(uri if uri.endswith("/") else uri + "/",) if uri else (),
                              subnets=tuple(sorted((job.get("vpcConfig") or {}).get("subnetIds") or ())),
                              keys=((m["modelKmsKeyArn"], "model"),) if m.get("modelKmsKeyArn") else ())
        return self._map(one, sorted(x["modelArn"] for x in models))

    def _bedrock_customizations(self, region: str) -> list[I.Workload]:
        """Each Bedrock model customization (fine-tuning) job: the training and validation
        data it reads, the output it writes, its role, subnets and custom model's key."""
        jobs = self._value(self.f.pages("bedrock", "list_model_customization_jobs",
                                        "bedrock:ListModelCustomizationJobs", {}, "modelCustomizationJobSummaries",
                                        "nextToken", region), f"bedrock model customization jobs in {region}", [])

        def one(name: str) -> I.Workload | None:
            j = self._value(self.f.call("bedrock", "get_model_customization_job", "bedrock:GetModelCustomizationJob",
                                        {"ResourceNotFoundException": "no such customization job"}, region,
                                        jobIdentifier=name), f"bedrock model customization job {name}")
            if j is None:
                return None
            data = [(j.get("trainingDataConfig") or {}).get("s3Uri")] + [
                (v.get("s3Uri")) for v in (j.get("validationDataConfig") or {}).get("validators") or []]
            return I.Workload(I.BEDROCK_CUSTOMIZATION, name, region, roles=tuple(filter(None, [j.get("roleArn")])),
                              data_uris=tuple(sorted(set(filter(None, data)))),
                              output_uris=tuple(filter(None, [(j.get("outputDataConfig") or {}).get("s3Uri")])),
                              subnets=tuple(sorted((j.get("vpcConfig") or {}).get("subnetIds") or ())),
                              keys=((j["outputModelKmsKeyArn"], "model"),) if j.get("outputModelKmsKeyArn") else ())
        return self._map(one, sorted(x["jobName"] for x in jobs))

    def _task_definition(self, region: str, arn: str) -> I.Workload | None:
        d = self._value(self.f.call("ecs", "describe_task_definition", "ecs:DescribeTaskDefinition",
                                    {"ClientException": "no such task definition"}, region,
                                    taskDefinition=arn), f"ecs task definition {arn}")
        if d is None:
            return None
        td = d["taskDefinition"]
        roles = tuple(sorted({r for r in (td.get("taskRoleArn"), td.get("executionRoleArn")) if r}))
        return I.Workload(I.ECS_TASK, arn.rsplit("/", 1)[-1], region, roles=roles,
                          images=tuple(sorted({c["image"] for c in td.get("containerDefinitions") or []
                                               if c.get("image")})))

    def _ecs_tasks(self, region: str) -> list[I.Workload]:
        arns = self._value(self.f.pages("ecs", "list_task_definitions", "ecs:ListTaskDefinitions", {},
                                        "taskDefinitionArns", "nextToken", region),
                           f"ecs task definitions in {region}", [])
        latest: dict[str, tuple[int, str]] = {}  # family -> its newest revision: what new tasks run
        for arn in arns:
            family, _, rev = arn.rsplit("/", 1)[-1].rpartition(":")
            if rev.isdigit() and int(rev) > latest.get(family, (-1, ""))[0]:
                latest[family] = (int(rev), arn)
        return self._map(lambda arn: self._task_definition(region, arn), sorted(arn for _, arn in latest.values()))

    def _ecs_services(self, region: str) -> list[I.Workload]:
        """Each ECS service with the subnets its tasks run in (awsvpc) and the roles and images
        of the task definition revision it runs (which need not be its family's newest)."""
        clusters = self._value(self.f.pages("ecs", "list_clusters", "ecs:ListClusters", {}, "clusterArns",
                                            "nextToken", region), f"ecs clusters in {region}", [])

        def services(cluster: str) -> list[dict]:
            arns = self._value(self.f.pages("ecs", "list_services", "ecs:ListServices",
                                            {"ClusterNotFoundException": "no such cluster"}, "serviceArns",
                                            "nextToken", region, cluster=cluster), f"ecs services of {cluster}", [])
            out = []
            for i in range(0, len(arns), 10):  # DescribeServices takes at most 10
                d = self._value(self.f.call("ecs", "describe_services", "ecs:DescribeServices",
                                            {"ClusterNotFoundException": "no such cluster"}, region,
                                            cluster=cluster, services=sorted(arns)[i:i + 10]),
                                f"ecs services of {cluster}", {})
                out += [s for s in d.get("services") or [] if s.get("status", "ACTIVE") != "INACTIVE"]
            return out
        found = [s for batch in self._map(services, sorted(clusters)) for s in batch]

        def one(s: dict) -> I.Workload | None:
            td = self._task_definition(region, s["taskDefinition"])
            vpc = ((s.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {})
            name = f"{s['clusterArn'].rsplit('/', 1)[-1]}/{s['serviceName']}"
            return I.Workload(I.ECS_SERVICE, name, region, roles=td.roles if td else (),
                              images=td.images if td else (), subnets=tuple(sorted(vpc.get("subnets") or ())))
        return self._map(one, sorted(found, key=lambda s: (s["clusterArn"], s["serviceName"])))

    def _eks_clusters(self, region: str) -> list[tuple[dict, list[I.Workload]]]:
        """Each EKS cluster (its ARN, OIDC issuer and subnets) with its pod identity
        associations as workloads."""
        names = self._value(self.f.pages("eks", "list_clusters", "eks:ListClusters", {}, "clusters", "nextToken",
                                         region), f"eks clusters in {region}", [])
        gone = {"ResourceNotFoundException": "no such cluster"}

        def one(name: str):
            d = self._value(self.f.call("eks", "describe_cluster", "eks:DescribeCluster", gone, region, name=name),
                            f"eks cluster {name}")
            if d is None:
                return None
            c = d["cluster"]
            subnets = tuple(sorted((c.get("resourcesVpcConfig") or {}).get("subnetIds") or ()))
            issuer = (((c.get("identity") or {}).get("oidc") or {}).get("issuer") or "").removeprefix("https://")
            found = self._value(self.f.pages("eks", "list_pod_identity_associations",
                                             "eks:ListPodIdentityAssociations", gone, "associations", "nextToken",
                                             region, clusterName=name), f"eks cluster {name}", [])
            pods = []
            for a in sorted(found, key=lambda a: a["associationId"]):
                x = self._value(self.f.call("eks", "describe_pod_identity_association",
                                            "eks:DescribePodIdentityAssociation", gone, region, clusterName=name,
                                            associationId=a["associationId"]), f"eks cluster {name}")
                if x is not None:
                    x = x["association"]
                    pods.append(I.Workload(I.EKS_POD, f"{name}/{x['namespace']}/{x['serviceAccount']}", region,
                                           roles=(x["roleArn"],), subnets=subnets,
                                           identity=(c["arn"], x["namespace"], x["serviceAccount"])))
            return {"name": name, "arn": c["arn"], "issuer": issuer, "subnets": subnets}, pods
        return self._map(one, sorted(names))

    def _irsa(self, clusters: list[dict]) -> list[I.Workload]:
        """Every role of the account whose trust admits an EKS cluster's service accounts of
        the regions read (IRSA: nothing in EKS names them, only their trust)."""
        roles = self._value(self.f.pages("iam", "list_roles", "iam:ListRoles", {}, "Roles", "Marker"), "iam roles", [])
        by_issuer = {c["issuer"]: c for c in clusters}
        out = []
        for role in roles:
            try:
                trust = _document(role.get("AssumeRolePolicyDocument") or "{}")
            except ValueError:
                self.problems.append(I.Problem(role["Arn"], "malformed trust policy returned by AWS"))
                continue
            for st in eks.allow_statements(trust):
                for sa in eks.service_accounts(st):
                    if sa.region not in self.regions:
                        continue
                    c = by_issuer.get(sa.issuer, {})
                    where = c.get("name", sa.issuer)
                    name = f"{where}/{sa.namespace}/{sa.name}" if sa.namespace else f"{where} ({sa.text})"
                    out.append(I.Workload(I.EKS_IRSA, name, sa.region, roles=(role["Arn"],),
                                          subnets=c.get("subnets", ()),
                                          identity=(sa.issuer, sa.namespace, sa.name) if sa.namespace else ()))
        return sorted(set(out), key=lambda w: (w.region, w.name, w.roles))

    # -- buckets ------------------------------------------------------------ #
    def _bucket_region(self, name: str) -> str | None:
        r = self.f.call("s3", "get_bucket_location", "s3:GetBucketLocation", {"NoSuchBucket": "no such bucket"},
                        Bucket=name)
        loc = self._value(r, f"s3 bucket {name}")
        if loc is None:
            return None
        constraint = loc.get("LocationConstraint")
        return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)

    def _sample(self, name: str, region: str) -> tuple[str, ...]:
        r = self.f.call("s3", "list_objects_v2", "s3:ListBucket", {"NoSuchBucket": "no such bucket"}, region,
                        Bucket=name, MaxKeys=SAMPLE_KEYS)
        listed = self._value(r, f"s3 bucket {name}", {})
        return tuple(sorted(o["Key"] for o in listed.get("Contents") or [] if looks_like_model(o["Key"])))

    def _tagged(self, name: str, region: str) -> bool:
        """Whether a tag of the bucket (key or value) says model data."""
        r = self.f.call("s3", "get_bucket_tagging", "s3:GetBucketTagging",
                        {"NoSuchTagSet": "no tags", "NoSuchTagSetError": "no tags", "NoSuchBucket": "no such bucket"},
                        region, Bucket=name)
        tags = self._value(r, f"s3 bucket {name}", {}).get("TagSet") or []
        return any(MODEL_WORDS.search(f"{t.get('Key', '')} {t.get('Value', '')}".lower()) for t in tags)

    def _encryption(self, name: str, region: str) -> tuple[str, str | None, bool]:
        r = self.f.parsed(self.f.call("s3", "get_bucket_encryption", "s3:GetEncryptionConfiguration",
                                      {"ServerSideEncryptionConfigurationNotFoundError": "no default encryption"},
                                      region, Bucket=name), lambda v: v["ServerSideEncryptionConfiguration"])
        if r.value is None:
            if r.missing:
                return "none", None, False
            self._value(r, f"s3 bucket {name}")
            return "unknown", None, False
        rule = (r.value.get("Rules") or [{}])[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        return default.get("SSEAlgorithm", "none"), default.get("KMSMasterKeyID"), bool(rule.get("BucketKeyEnabled"))

    def _buckets(self, workloads: list[I.Workload]) -> tuple[list[I.Bucket], list[I.Location]]:
        listed = self._value(self.f.pages("s3", "list_buckets", "s3:ListAllMyBuckets", {}, "Buckets",
                                          "ContinuationToken"), "s3 buckets", [])
        names = sorted({b["Name"] for b in listed})
        locations = [loc for w in workloads for loc in _workload_locations(w)]
        referenced = {loc.bucket for loc in locations}

        def one(name: str):
            region = self._bucket_region(name)
            if region is None or region not in self.regions:
                return None
            keys = self._sample(name, region)
            found = [I.Location(name, directory(k), f"sampled key {k}") for k in keys]
            why = [w for w, yes in (("used by a workload", name in referenced), ("model files in its keys", bool(keys)),
                                    ("its name", bool(MODEL_WORDS.search(name))),
                                    ("its tags", self._tagged(name, region))) if yes]
            if not why:
                return None
            algorithm, key, bucket_key = self._encryption(name, region)
            policy = self.f.bucket_policy(name)
            return (I.Bucket(name, region, algorithm, key, self._value(policy, f"s3 bucket {name}"),
                             why=", ".join(why), bucket_key=bucket_key), found)
        results = self._map(one, names)
        kept = {b.name for b, _ in results}
        locations = [loc for loc in locations if loc.bucket in kept] + [loc for _, found in results for loc in found]
        locations = sorted(set(locations), key=lambda loc: (loc.bucket, loc.prefix, loc.source, loc.role or ""))
        buckets = []
        for b, _ in results:
            prefixes = I.narrowest(loc.prefix for loc in locations if loc.bucket == b.name)
            buckets.append(replace(b, prefixes=prefixes))
        return buckets, locations

    # -- keys, repositories, roles, networks --------------------------------- #
    def _keys(self, buckets: list[I.Bucket], workloads: list[I.Workload]) -> tuple[list[I.Key], dict[tuple, str]]:
        """The buckets' and the workloads' keys, each resolved to its ARN (they may name an
        alias or a key id), with what each encrypts."""
        uses: dict[tuple[str, str], set[str]] = {}
        for b in buckets:
            if b.key_arn:
                uses.setdefault((b.key_arn, b.region), set()).add(f"s3 bucket {b.name}")
        for w in workloads:
            for ref, what in w.keys:
                region = ref.split(":")[3] if ref.startswith("arn:") and ref.count(":") >= 5 else w.region
                uses.setdefault((ref, region), set()).add(f"{w.kind} {w.name} ({what})")

        def one(item):
            ref, region = item
            d = self._value(self.f.call("kms", "describe_key", "kms:DescribeKey", {"NotFoundException": "no such key"},
                                        region, KeyId=ref), f"kms key {ref}")
            if d is None:
                return None
            meta = d["KeyMetadata"]
            arn = meta["Arn"]
            policy = self._value(self.f.key_policy(arn), f"kms key {arn}")
            return item, I.Key(arn, arn.split(":")[3], policy, meta.get("KeyManager") == "AWS")
        out = self._map(one, sorted(uses))
        keys: dict[str, I.Key] = {}
        for item, k in out:
            prior = keys.get(k.arn)
            keys[k.arn] = replace(k, encrypts=tuple(sorted(uses[item] | set(prior.encrypts if prior else ()))))
        return sorted(keys.values(), key=lambda k: k.arn), {item: k.arn for item, k in out}

    def _repositories(self, workloads: list[I.Workload]) -> list[I.Repository]:
        wanted = sorted({(region, name) for w in workloads for img in w.images
                         if (parsed := image_repository(img)) and parsed[0] == self.account
                         for _, region, name in [parsed] if region in self.regions})

        def one(item):
            region, name = item
            d = self._value(self.f.call("ecr", "describe_repositories", "ecr:DescribeRepositories",
                                        {"RepositoryNotFoundException": "no such repository"}, region,
                                        repositoryNames=[name]), f"ecr repository {name}")
            if not d or not d.get("repositories"):
                return None
            arn = d["repositories"][0]["repositoryArn"]
            policy = self.f.repository_policy(arn)
            return I.Repository(name, region, arn, self._value(policy, f"ecr repository {name}"))
        return self._map(one, wanted)

    def _roles(self, users: dict[str, set[str]]) -> list[I.Role]:
        def one(arn: str) -> I.Role:
            fetcher = self.f if arn.split(":")[4] == self.account else self.others.get(arn.split(":")[4])
            if fetcher is None:
                self.problems.append(I.Problem(arn, f"role of account {arn.split(':')[4]} not read (add "
                                                    f"--account-profile {arn.split(':')[4]}=PROFILE)"))
                return I.Role(arn, used_by=tuple(sorted(users[arn])), read=False)
            trust = self._value(fetcher.role_trust(arn), arn)
            policies = self._value(fetcher.role_policies(arn), arn)
            return I.Role(arn, trust, tuple(policies or ()), tuple(sorted(users[arn])), policies is not None)
        return self._map(one, sorted(users))

    def _networks(self, workloads: list[I.Workload]) -> list[I.Network]:
        by_region: dict[str, set[str]] = {}
        for w in workloads:
            by_region.setdefault(w.region, set()).update(w.subnets)
        nets: list[I.Network] = []
        for region in sorted(by_region):
            if not by_region[region]:
                continue
            subnets = self._value(self.f.pages("ec2", "describe_subnets", "ec2:DescribeSubnets", {}, "Subnets",
                                               "NextToken", region, SubnetIds=sorted(by_region[region])),
                                  f"subnets in {region}", [])
            vpcs: dict[str, set[str]] = {}
            for s in subnets:
                vpcs.setdefault(s["VpcId"], set()).add(s["SubnetId"])
            for vpc in sorted(vpcs):
                eps = self._value(self.f.pages("ec2", "describe_vpc_endpoints", "ec2:DescribeVpcEndpoints", {},
                                               "VpcEndpoints", "NextToken", region,
                                               Filters=[{"Name": "vpc-id", "Values": [vpc]}]),
                                  f"VPC endpoints of {vpc}", [])
                found, policies = [], []
                for e in eps:
                    service = e.get("ServiceName", "").split(f".{region}.", 1)[-1]
                    if service in ENDPOINT_SERVICES and e.get("State", "available").lower() not in ("deleted",
                                                                                                    "deleting"):
                        found.append((service, e["VpcEndpointId"], str(e.get("VpcEndpointType", "")).lower()))
                        try:
                            if e.get("PolicyDocument"):
                                policies.append((e["VpcEndpointId"], _document(e["PolicyDocument"])))
                        except ValueError:
                            self.problems.append(I.Problem(e["VpcEndpointId"], "cannot verify: malformed document "
                                                                               "returned by AWS (endpoint policy)"))
                nets.append(I.Network(vpc, region, tuple(sorted(found)), tuple(sorted(vpcs[vpc])),
                                      tuple(sorted(policies, key=lambda p: p[0]))))
        return nets

    # -- the run ------------------------------------------------------------ #
    def run(self) -> I.Inventory:
        partition = self._partition()
        workloads: list[I.Workload] = []
        clusters: list[dict] = []
        for region in self.regions:
            for read in (self._sagemaker_models, self._training_jobs, self._model_packages, self._endpoints,
                         self._ecs_tasks, self._ecs_services, self._bedrock_imports, self._bedrock_customizations):
                workloads += read(region)
            for cluster, pods in self._eks_clusters(region):
                clusters.append(cluster)
                workloads += pods
        workloads += self._irsa(clusters)
        if self.problems and not workloads and all(p.message.startswith("needs ") for p in self.problems):
            first = self._listing_problem()
            if first:
                raise LiveConfigError(first)
        buckets, locations = self._buckets(workloads)
        keys, resolved = self._keys(buckets, workloads)
        buckets = [replace(b, key_arn=resolved.get((b.key_arn or "", b.region), b.key_arn)) for b in buckets]
        repositories = self._repositories(workloads)
        models = {(w.region, w.name): w for w in workloads if w.kind == I.SAGEMAKER_MODEL}
        users: dict[str, set[str]] = {}
        for w in workloads:
            for r in w.roles:
                users.setdefault(r, set()).add(f"{w.kind} {w.name}")
            for m in w.models:
                for r in models.get((w.region, m), I.Workload("", "", "")).roles:
                    users.setdefault(r, set()).add(f"{w.kind} {w.name}")
        roles = self._roles(users)
        endpoints = [I.Endpoint(w.name, w.region, f"arn:{partition}:sagemaker:{w.region}:{self.account}:endpoint/"
                                                  f"{w.name.lower()}", w.models)
                     for w in workloads if w.kind == I.SAGEMAKER_ENDPOINT]
        networks = self._networks(workloads)
        if self.progress and self._total:
            self.progress(self._total, self._total)
        return I.Inventory(self.account, partition, self.regions, tuple(workloads), tuple(locations),
                           tuple(buckets), tuple(repositories), tuple(keys), tuple(roles), tuple(endpoints),
                           tuple(networks), tuple(sorted(set(self.problems), key=lambda p: (p.resource, p.message))))

    def _partition(self) -> str:
        r = self.f.call("sts", "get_caller_identity", "sts:GetCallerIdentity", {})
        arn = (r.value or {}).get("Arn", "arn:aws:")
        return arn.split(":")[1] or "aws"

    def _listing_problem(self) -> str | None:
        """When every listing was refused, the run has no permissions at all: one line."""
        s3 = self.f.pages("s3", "list_buckets", "s3:ListAllMyBuckets", {}, "Buckets", "ContinuationToken")
        if s3.value is not None:
            return None
        needs = sorted({p.message.removeprefix("needs ") for p in self.problems} | {
            "s3:ListAllMyBuckets"})
        return (f"no permission to read this account's model assets (refused: {', '.join(needs)}); "
                "slpc import needs read-only access (e.g. the ReadOnlyAccess managed policy)")


def _workload_locations(w: I.Workload) -> list[I.Location]:
    out = []
    for uris, label, writes, file_like in ((w.model_uris, "model data", False, True),
                                           (w.data_uris, "training input", False, False),
                                           (w.output_uris, "output", True, False)):
        for uri in uris:
            parsed = split_s3(uri)
            if parsed is None:
                continue
            bucket, key = parsed
            prefix = directory(key) if file_like and not key.endswith("/") else key
            for role in w.roles or (None,):
                out.append(I.Location(bucket, prefix, f"{w.kind} {w.name} ({label} {uri})", role, writes))
    return out

