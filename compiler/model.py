"""The checked Model: the deployment in AWS terms, the only input of targets.

Plain frozen dataclasses; names are resolved (references hold declared names,
ARNs are complete and validated), so targets never re-check the spec.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from slpc.diagnostics import Span


@dataclass(frozen=True)
class FlowLogs:
    """Where the networks' VPC flow logs go: a CloudWatch Logs log group in the key's region."""

    log_group: str
    key: str  # a declared key's name
    retention_days: int


@dataclass(frozen=True)
class Deployment:
    name: str
    partition: str
    account: str
    regions: tuple[str, ...]
    org: str | None = None
    guardrails: tuple[str, ...] = ("scp", "rcp")
    # IAM: managed policies attached to one role (AWS's default quota 10, raisable to 20)
    managed_policies: int = 10
    management_account: str | None = None  # declared: where the SCPs do not apply (W534)
    flow_logs: FlowLogs | None = None  # declared: the networks' VPC flow logs (compiler/flow_logs.py)


@dataclass(frozen=True)
class Network:
    name: str
    account: str
    vpc: str | None
    endpoints: tuple[tuple[str, str], ...]  # (service, vpce id)
    cidrs: tuple[str, ...]
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    endpoint_policies: str = "auto"  # how coarse its endpoints' policies may become to fit (ENDPOINT_POLICY_MODES)
    region: str | None = None  # where its VPC and endpoints are; None only for a network of public CIDRs alone
    clients: tuple[str, ...] = ()  # private CIDRs (normalised) and security group ids that may reach its endpoints
    gateways: tuple[str, ...] = ()  # the ids of its gateway endpoints (the others are interface endpoints)
    service_regions: tuple[tuple[str, str], ...] = ()  # (vpce id, region) of its cross-region interface endpoints

    def endpoint_ids(self, services: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(vid for svc, vid in self.endpoints if svc in services)

    @property
    def interface_endpoints(self) -> tuple[tuple[str, str], ...]:
        """(service, vpce id) of the endpoints that have network interfaces (and so security groups)."""
        return tuple((svc, vid) for svc, vid in self.endpoints if vid not in self.gateways)

    def service_region(self, vpce: str) -> str | None:
        """The region whose service an endpoint reaches: its declared one, else the network's."""
        return dict(self.service_regions).get(vpce, self.region)

    def gateway_for(self, service: str) -> bool:
        """Whether this network reaches `service` through a gateway endpoint."""
        return any(svc == service and vid in self.gateways for svc, vid in self.endpoints)


@dataclass(frozen=True)
class Way:
    """One way to obtain a role's credentials (compiler/trust.py names the kinds).

    `subject` is in AWS terms: a service principal, an EKS cluster ARN, an OIDC issuer,
    a GitHub repository, a permission set name, a declared role or an account id."""

    via: str
    subject: str
    qualifiers: tuple[tuple[str, str], ...] = ()  # sorted (word, value) pairs

    def qualifier(self, word: str) -> str | None:
        return dict(self.qualifiers).get(word)


@dataclass(frozen=True)
class Principal:
    name: str
    arn: str
    account: str
    # Who may obtain the role: None when the spec does not say (slpc then writes no trust
    # policy for it); () when nothing may.
    trust: tuple[Way, ...] | None = None
    passers: tuple[tuple[str, str], ...] = ()  # (declared role, service principal) for iam:PassRole
    admins: tuple[str, ...] = ()  # declared roles that may change its policies and trust
    session_s: int | None = None  # its maximum session duration; None: IAM's default (1 hour)

    @property
    def name_in_iam(self) -> str:
        """The role's name, without its path."""
        return self.arn.rsplit("/", 1)[1]

    @property
    def path(self) -> str:
        """The role's IAM path: `/` or `/a/b/`."""
        rest = self.arn.split(":role", 1)[1]
        return rest[: rest.rindex("/") + 1]


@dataclass(frozen=True)
class Key:
    name: str
    arn: str
    account: str
    region: str
    admins: tuple[str, ...]
    key_policy: str = "auto"  # how coarse its policy may become to fit (KEY_POLICY_MODES)


@dataclass(frozen=True)
class Authorizer:
    """An API stage's Amazon Cognito user pool authorizer: its callers are the pool's users
    whose access token holds one of `scopes` (as API Gateway checks a method's authorization
    scopes), from `networks` (compiler/authorizers.py)."""

    pool_arn: str
    scopes: tuple[str, ...]
    networks: tuple[str, ...]


@dataclass(frozen=True)
class Asset:
    """A bucket, repository or inference endpoint: something grants name."""

    kind: str  # "bucket" | "repository" | "endpoint" (SageMaker) | "api" (API Gateway stage)
    name: str
    resource_name: str  # bucket name, repository name, endpoint name
    arn: str
    account: str
    region: str | None
    admins: tuple[str, ...] = ()
    # buckets only
    key: str | None = None
    object_lock: tuple[str, int] | None = None  # (mode, days)
    audit: tuple[str, ...] = ()
    breakglass: tuple[str, ...] = ()
    signature_age_ms: int = 0  # buckets: the longest accepted signature age (presigned URLs)
    # buckets: "auto" | "always" | "never"; targets.layout resolves "auto" to one of the others
    access_points: str = "never"
    # API stages only: the SageMaker endpoint (declared name) its integration calls, and the
    # role (declared name) API Gateway calls it as; both or neither
    backend: str | None = None
    integration_role: str | None = None
    authorizer: Authorizer | None = None  # API stages only: None means AWS_IAM (the grants' roles)

    @property
    def object_arn_prefix(self) -> str:
        return self.arn + "/"


@dataclass(frozen=True)
class AccessPoint:
    """An S3 access point slpc creates: one per grantee of a bucket reached through them."""

    name: str  # 3-50 lowercase letters, digits and hyphens, unique in the account and region
    arn: str
    bucket: str  # the bucket's declared name
    principal: str  # the one principal it serves (declared name)


@dataclass(frozen=True)
class Grant:
    principal: str
    verb: str
    asset: str
    prefix: str  # "" means the whole asset
    networks: tuple[str, ...]
    until: str | None  # ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ"
    span: Span | None = field(default=None, compare=False)
    principal_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Model:
    deployment: Deployment
    networks: Mapping[str, Network]
    principals: Mapping[str, Principal]
    keys: Mapping[str, Key]
    assets: Mapping[str, Asset]
    grants: tuple[Grant, ...]

    def assets_of(self, kind: str) -> list[Asset]:
        return [a for a in self.assets.values() if a.kind == kind]

    def grants_on(self, *assets: str) -> list[Grant]:
        """The grants on these assets, in spec order (indexed: targets ask once per asset)."""
        found = [g for a in dict.fromkeys(assets) for g in self._index[0].get(a, ())]
        return found if len(assets) == 1 else sorted(found, key=self._position.__getitem__)

    def api_networks(self, api_id: str) -> list[str]:
        """The networks any stage of this REST API is reached from (its grants' and its
        Cognito authorizers'), sorted: one resource policy serves every stage."""
        stages = [a for a in self.assets.values() if a.kind == "api" and a.resource_name == api_id]
        nets = {n for a in stages for g in self.grants_on(a.name) for n in g.networks}
        nets |= {n for a in stages if a.authorizer for n in a.authorizer.networks}
        return sorted(nets)

    def integration_roles(self, endpoint: str) -> tuple[str, ...]:
        """The roles that API stages call this SageMaker endpoint as (their integrations'
        credentials), in name order."""
        return tuple(sorted({a.integration_role for a in self.assets.values()
                             if a.backend == endpoint and a.integration_role}))

    def backend_of(self, role: str) -> str | None:
        """The SageMaker endpoint an integration role calls (one at most: compiler/check.py)."""
        return next((a.backend for a in self.assets.values() if a.integration_role == role), None)

    def duties_of(self, role: str) -> tuple[list[Key], list[Asset]]:
        """The keys and assets this role administers or may break glass on, in declaration order."""
        return self._duties.get(role, ([], []))

    @cached_property
    def _duties(self) -> dict[str, tuple[list[Key], list[Asset]]]:
        out: dict[str, tuple[list[Key], list[Asset]]] = {}
        for k in self.keys.values():
            for r in dict.fromkeys(k.admins):
                out.setdefault(r, ([], []))[0].append(k)
        for a in self.assets.values():
            for r in dict.fromkeys(a.admins + a.breakglass):
                out.setdefault(r, ([], []))[1].append(a)
        return out

    def obtains(self, role: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
        """The roles this role may pass (with the service principals it may pass each to) and
        the roles it may assume (role chaining), each in name order."""
        return self._obtains.get(role, ([], []))

    @cached_property
    def _obtains(self) -> dict[str, tuple[list[tuple[str, tuple[str, ...]]], list[str]]]:
        out: dict[str, tuple[list, list]] = {}
        for target in sorted(self.principals.values(), key=lambda p: p.name):
            services: dict[str, list[str]] = {}
            for passer, service in target.passers:
                services.setdefault(passer, []).append(service)
            for passer, svcs in services.items():
                out.setdefault(passer, ([], []))[0].append((target.name, tuple(sorted(svcs))))
            for w in target.trust or ():
                if w.via == "role":
                    out.setdefault(w.subject, ([], []))[1].append(target.name)
        return out

    def access_points(self, bucket: str) -> dict[str, AccessPoint]:
        """The access points of a bucket reached through them, by principal (empty otherwise)."""
        return self._access_points.get(bucket, {})

    def access_point_at(self, arn: str) -> AccessPoint:
        """The access point with this ARN."""
        return self._access_point_arns[arn]

    @cached_property
    def _access_point_arns(self) -> dict[str, AccessPoint]:
        return {ap.arn: ap for aps in self._access_points.values() for ap in aps.values()}

    @cached_property
    def _access_points(self) -> dict[str, dict[str, AccessPoint]]:
        taken: set[str] = set()
        out: dict[str, dict[str, AccessPoint]] = {}
        for a in self.assets.values():
            if a.kind != "bucket" or a.access_points != "always":
                continue
            owners = dict.fromkeys([g.principal for g in self.grants_on(a.name)] + list(a.breakglass))
            for who in owners:
                name = access_point_name(a.name, who, taken)
                taken.add(name)
                arn = f"arn:{self.deployment.partition}:s3:{a.region}:{a.account}:accesspoint/{name}"
                out.setdefault(a.name, {})[who] = AccessPoint(name, arn, a.name, who)
        return out

    @cached_property
    def _position(self) -> dict[Grant, int]:
        return {g: i for i, g in enumerate(self.grants)}

    def in_spec_order(self, grants) -> tuple[Grant, ...]:
        """Some of the model's grants, in the order the spec declares them."""
        return tuple(sorted(grants, key=self._position.__getitem__))

    def grants_of(self, principal: str) -> list[Grant]:
        """The grants to this principal, in spec order."""
        return list(self._index[1].get(principal, ()))

    def grants_from(self, network: str) -> list[Grant]:
        """The grants that hold from this network, in spec order."""
        return list(self._index[2].get(network, ()))

    @cached_property
    def _index(self) -> tuple[dict[str, list[Grant]], ...]:
        by_asset: dict[str, list[Grant]] = {}
        by_principal: dict[str, list[Grant]] = {}
        by_network: dict[str, list[Grant]] = {}
        for g in self.grants:
            by_asset.setdefault(g.asset, []).append(g)
            by_principal.setdefault(g.principal, []).append(g)
            for n in dict.fromkeys(g.networks):
                by_network.setdefault(n, []).append(g)
        return by_asset, by_principal, by_network


def _dns_label(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-")


def access_point_name(bucket: str, principal: str, taken: set[str]) -> str:
    """`<bucket>-<principal>` as S3 allows access point names (3-50 characters of
    [a-z0-9-], not ending in `-s3alias`), with a stable hash where it would not fit or collide."""
    name = f"{_dns_label(bucket)}-{_dns_label(principal)}".strip("-")
    if 3 <= len(name) <= 50 and name not in taken and not name.endswith("-s3alias") and not name.startswith("xn--"):
        return name
    digest = hashlib.sha256(f"{bucket}/{principal}".encode()).hexdigest()[:8]
    return f"{name[:41].rstrip('-')}-{digest}".lstrip("-")
