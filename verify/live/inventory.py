"""What `slpc import` found in a live account: plain data, no AWS calls.

`discover` fills an `Inventory` from the account (read-only); `current_access`
decides with slpc's evaluator what each found role can do today on each found
asset; `draft` turns both into a spec; `wider` compares the compiled draft with what
is deployed. Keeping the inventory plain data lets the drafting be tested and
reasoned about without AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

# What a workload is (the `kind` of a Workload).
SAGEMAKER_MODEL = "sagemaker model"
TRAINING_JOB = "sagemaker training job"
MODEL_PACKAGE = "sagemaker model package"
SAGEMAKER_ENDPOINT = "sagemaker endpoint"
BEDROCK_IMPORT = "bedrock imported model"
BEDROCK_CUSTOMIZATION = "bedrock model customization job"
ECS_TASK = "ecs task definition"
ECS_SERVICE = "ecs service"
EKS_POD = "eks pod identity"
EKS_IRSA = "eks service account (IRSA)"


def narrowest(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The prefixes with every one that another covers removed, sorted."""
    out: list[str] = []
    for p in sorted(set(prefixes)):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class Workload:
    """Something that runs as a role and uses model data or images."""

    kind: str
    name: str
    region: str
    roles: tuple[str, ...] = ()  # role ARNs it runs as
    images: tuple[str, ...] = ()  # container image URIs
    model_uris: tuple[str, ...] = ()  # s3:// URIs of model data (read)
    data_uris: tuple[str, ...] = ()  # s3:// URIs of training input (read)
    output_uris: tuple[str, ...] = ()  # s3:// URIs it writes (outputs, checkpoints)
    subnets: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # an endpoint's models
    keys: tuple[tuple[str, str], ...] = ()  # (KMS key as named: ARN, id or alias; what it encrypts)
    # an EKS workload's (cluster ARN for pod identity or OIDC issuer for IRSA, namespace, service account);
    # empty when its trust admits a pattern rather than one service account
    identity: tuple[str, ...] = ()


@dataclass(frozen=True)
class Location:
    """One piece of evidence that model data lives under `prefix` of `bucket`."""

    bucket: str
    prefix: str  # "" is the whole bucket
    source: str  # e.g. "sagemaker model chat-v1 (ModelDataUrl)", "sampled key released/model.safetensors"
    role: str | None = None  # the role that uses it there, when the source says
    writes: bool = False  # the role writes there (a job's output or checkpoints)


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    encryption: str  # "aws:kms", "aws:kms:dsse", "AES256", "none" or "unknown"
    key_arn: str | None = None  # the customer-managed key of its default encryption
    policy: dict | None = None
    prefixes: tuple[str, ...] = ()  # where model data was found, "" for the bucket's root
    why: str = ""  # why it counts as a model bucket
    bucket_key: bool = False  # S3 Bucket Keys: S3 asks KMS with the bucket's ARN as encryption context


@dataclass(frozen=True)
class Repository:
    name: str
    region: str
    arn: str
    policy: dict | None = None


@dataclass(frozen=True)
class Key:
    arn: str
    region: str
    policy: dict | None = None
    managed_by_aws: bool = False
    encrypts: tuple[str, ...] = ()  # "s3 bucket X", "sagemaker training job Y (volume)", ...


@dataclass(frozen=True)
class Role:
    arn: str
    trust: dict | None = None
    policies: tuple[tuple[str, Any], ...] = ()  # (label, document)
    used_by: tuple[str, ...] = ()  # "sagemaker model chat-v1", ...
    read: bool = True  # its policies could be read


@dataclass(frozen=True)
class Endpoint:
    name: str
    region: str
    arn: str
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Network:
    vpc: str
    region: str
    endpoints: tuple[tuple[str, str, str], ...] = ()  # (slpc service name, vpce id, "gateway"|"interface")
    subnets: tuple[str, ...] = ()
    policies: tuple[tuple[str, Any], ...] = ()  # (vpce id, its endpoint policy)


@dataclass(frozen=True)
class Problem:
    """A resource that could not be read (AccessDenied, malformed): a finding, not a crash."""

    resource: str
    message: str


@dataclass(frozen=True)
class Inventory:
    account: str
    partition: str
    regions: tuple[str, ...]
    workloads: tuple[Workload, ...] = ()
    locations: tuple[Location, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    repositories: tuple[Repository, ...] = ()
    keys: tuple[Key, ...] = ()
    roles: tuple[Role, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    networks: tuple[Network, ...] = ()
    problems: tuple[Problem, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.buckets or self.repositories or self.roles or self.endpoints or self.workloads)

    def to_json(self) -> dict:
        """The stable JSON shape of `slpc import --format json` (docs/import.md)."""
        return {
            "account": self.account, "partition": self.partition, "regions": list(self.regions),
            "workloads": [{"kind": w.kind, "name": w.name, "region": w.region, "roles": list(w.roles),
                           "images": list(w.images), "subnets": list(w.subnets),
                           "keys": [{"key": k, "encrypts": what} for k, what in w.keys],
                           "s3": sorted(set(w.model_uris + w.data_uris + w.output_uris)),
                           **({"identity": dict(zip(("subject", "namespace", "service_account"), w.identity))}
                              if w.identity else {})} for w in self.workloads],
            "model_locations": [{"bucket": loc.bucket, "prefix": loc.prefix, "source": loc.source,
                                 "role": loc.role} for loc in self.locations],
            "buckets": [{"name": b.name, "region": b.region, "encryption": b.encryption, "key": b.key_arn,
                         "prefixes": list(b.prefixes), "why": b.why} for b in self.buckets],
            "repositories": [{"name": r.name, "region": r.region, "arn": r.arn} for r in self.repositories],
            "keys": [{"arn": k.arn, "region": k.region, "aws_managed": k.managed_by_aws, "encrypts": list(k.encrypts)}
                     for k in self.keys],
            "roles": [{"arn": r.arn, "used_by": list(r.used_by)} for r in self.roles],
            "endpoints": [{"name": e.name, "region": e.region, "arn": e.arn, "models": list(e.models)}
                          for e in self.endpoints],
            "networks": [{"vpc": n.vpc, "region": n.region,
                          "endpoints": [{"service": s, "id": i, "type": t} for s, i, t in n.endpoints]}
                         for n in self.networks],
            "problems": [{"resource": p.resource, "message": p.message} for p in self.problems],
        }
