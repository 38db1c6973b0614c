"""The typed AST of an .slp spec: plain frozen dataclasses with source spans.

Spans are excluded from equality, so two specs that say the same thing compare
equal however they were laid out (the formatter's round-trip property relies on it).
The AST knows nothing of AWS: values are the strings the author wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from slpc.diagnostics import Span

_NO_SPAN = Span("<none>", 1, 1, 1, 1)


def _span() -> Span:
    return field(default=_NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    """An identifier: a declaration's name or a reference to one."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Str:
    """A string literal, already unescaped."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    """A whole number as written (e.g. a quota)."""

    value: int
    span: Span = _span()


@dataclass(frozen=True)
class Deployment:
    name: Str
    account: Str
    regions: tuple[Str, ...]
    partition: Str | None = None
    org: Str | None = None
    guardrails: tuple[Name, ...] | None = None  # None: the default (all)
    managed_policies: Number | None = None  # managed policies per role; None: AWS's default quota
    management_account: Str | None = None  # the organization's management account, where SCPs do not apply
    span: Span = _span()
    flow_logs: FlowLogs | None = None  # where the VPC flow logs of the spec's networks go


@dataclass(frozen=True)
class FlowLogs:
    """`flow_logs "LOG-GROUP" key KEY [retain N days]`: the CloudWatch Logs log group the
    networks' VPC flow logs are delivered to, the spec key that encrypts it, its retention."""

    log_group: Str
    key: Name
    retention: Duration | None = None  # None: the default (compiler/flow_logs.py)
    span: Span = _span()


@dataclass(frozen=True)
class VpcEndpoint:
    service: Name
    id: Str
    span: Span = _span()
    type: Name | None = None  # `gateway` or `interface`; None: the service's default (compiler/check.py)
    region: Str | None = None  # the service region of a cross-region interface endpoint; None: the network's


@dataclass(frozen=True)
class Network:
    name: Name
    account: Str | None = None
    vpc: Str | None = None
    endpoints: tuple[VpcEndpoint, ...] = ()
    cidrs: tuple[Str, ...] = ()
    subnets: tuple[Str, ...] = ()
    security_groups: tuple[Str, ...] = ()
    endpoint_policies: Name | None = None
    span: Span = _span()
    region: Str | None = None
    clients: tuple[Str, ...] = ()  # CIDRs and security group ids that may reach its interface endpoints


@dataclass(frozen=True)
class Way:
    """`assumed_by KIND SUBJECT [WORD "value" ...]`: one way to obtain a role's credentials."""

    kind: Name  # service | eks_pod | irsa | github | identity_center | role | account
    subject: Name | Str  # a name for `service` and `role`, a string for the others
    qualifiers: tuple[tuple[Name, Str], ...] = ()  # e.g. (namespace "ml"), (environment "prod")
    span: Span = _span()


@dataclass(frozen=True)
class Pass:
    """`passed_by ROLE to SERVICE`: who may hand the role to a service (iam:PassRole)."""

    passer: Name
    service: Name
    span: Span = _span()


@dataclass(frozen=True)
class Role:
    name: Name
    arn: Str
    # A block says who may obtain the role: without one the spec leaves its trust unsaid.
    block: bool = False
    assumed_by: tuple[Way, ...] = ()
    passed_by: tuple[Pass, ...] = ()
    admins: tuple[Name, ...] = ()
    session: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Key:
    name: Name
    arn: Str
    admins: tuple[Name, ...] = ()
    key_policy: Name | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Duration:
    """`N minutes` / `N days`: an amount and its unit as written."""

    amount: int
    unit: Name
    span: Span = _span()


@dataclass(frozen=True)
class ObjectLock:
    mode: Name  # governance | compliance
    days: int
    span: Span = _span()


@dataclass(frozen=True)
class Bucket:
    name: Name
    bucket: Str
    encrypt: Name | None = None
    object_lock: ObjectLock | None = None
    audit: tuple[Name, ...] = ()
    admins: tuple[Name, ...] = ()
    breakglass: tuple[Name, ...] = ()
    signature_age: Duration | None = None
    access_points: Name | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Repository:
    name: Name
    repository: Str
    region: Str | None = None
    admins: tuple[Name, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Authorizer:
    """`authorizer cognito "POOL-ARN" scopes ["..."] from NETWORK, ...` of an API stage."""

    kind: Name
    pool: Str
    scopes: tuple[Str, ...]
    networks: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Endpoint:
    """An inference endpoint: a SageMaker endpoint or an API Gateway private API stage."""

    name: Name
    sagemaker: Str | None = None
    apigateway: Str | None = None
    stage: Str | None = None
    region: Str | None = None
    backend: Name | None = None  # API only: the spec's SageMaker endpoint behind it
    integration_role: Name | None = None  # API only: the role API Gateway calls the backend as
    authorizer: Authorizer | None = None  # API only: a Cognito user pool authorizes its callers
    span: Span = _span()


@dataclass(frozen=True)
class Allow:
    principal: Name
    verb: Name
    asset: Name
    networks: tuple[Name, ...]
    prefix: Str | None = None
    until: Str | None = None
    span: Span = _span()


Declaration = Union[Deployment, Network, Role, Key, Bucket, Repository, Endpoint, Allow]


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Spec:
    """One source file: its declarations in source order, and its comments."""

    declarations: tuple[Declaration, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    file: str = field(default="<input>", compare=False)
