"""The spec's own meaning: does the checked Model permit a request?

Computed from the Model and the verb table alone, never from emitted JSON, so it
is an independent reference for the compiled policies: the differential property
tests assert that AWS evaluation of the artifacts agrees with this function on
every generated request.

The question is asked for one principal that may hold, besides what slpc gives
it, arbitrary IAM permissions (`star`: an identity policy allowing `*:*`).
The spec governs every data, key, image and perimeter action on its assets
exactly; other actions on its assets stay with IAM (allowed to a same-account
`star` holder that passes the perimeter). SageMaker endpoints have no resource
policy, yet the spec's meaning is the same there: only grantees invoke, from their
grants' networks and within their windows. What enforces it for a `star` holder is
the SCP (targets/guardrails.py); where no SCP applies, the compiler warns (W533, W534).
The one caller from no network of the spec is an API stage's integration role
(compiler/integrations.py): `sagemaker:InvokeEndpoint` on its backend, from anywhere, as
API Gateway calls it; who reaches the API is the API's own resource policy's question.
An API stage with a Cognito authorizer (compiler/authorizers.py) is invoked by the pool's
users, whose requests name no IAM principal: the policies admit any caller through its
authorizer's networks, and the authorizer (outside IAM) admits only the pool's users.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

from slpc.compiler import flow_logs, routes
from slpc.compiler import trust as T
from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Grant, Model, Principal
from slpc.compiler.values import DNS_SUFFIX
from slpc.targets.layout import resolve

ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Question:
    principal: str | None  # an IAM role ARN, a service principal, or None (anonymous)
    action: str
    resource: str
    context: Mapping[str, ContextValue]
    star: bool = False  # the principal also holds `*:*` in IAM


# How a hop reaches a role's credentials (see `Hop`).
ASSUME, PASS, WEB_IDENTITY, IDENTITY_CENTER, ACCOUNT = "assume", "pass", "web_identity", "identity_center", "account"


@dataclass(frozen=True)
class Hop:
    """One step to a role's credentials, as `Meaning.obtains` states and `slpc explain` probes.

    ASSUME: the declared role `source` calls sts:AssumeRole. PASS: the declared role `source`
    passes it to the AWS service `detail`, which then assumes it. WEB_IDENTITY: a token of the
    OIDC provider `source` (its ARN) whose subject is `detail`. IDENTITY_CENTER: a session of
    the permission set `source`. ACCOUNT: any principal of account `source` that its own
    IAM policies allow."""

    how: str
    source: str
    detail: str | None = None


def _get(ctx: Mapping[str, ContextValue], key: str) -> str | None:
    for k, v in ctx.items():
        if k.lower() == key.lower():
            return v if isinstance(v, str) else (v[0] if v else None)
    return None


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Meaning:
    def __init__(self, model: Model):
        if any(a.access_points == "auto" for a in model.assets_of("bucket")):
            model = resolve(model)[0]  # how each bucket is reached is part of what the output means
        self.m = model
        self.access_points = {ap.arn: ap for a in model.assets_of("bucket")
                              for ap in model.access_points(a.name).values()}
        self.role_names = {p.arn: p.name for p in model.principals.values()}
        # the meaning of a request on each asset kind (compiler.verbs.ASSET_KINDS)
        self.by_kind = {"bucket": self.s3, "repository": self.ecr, "endpoint": self.endpoint, "api": self.api}

    # -- shared pieces ------------------------------------------------------ #
    def in_networks(self, networks, services, ctx) -> bool:
        vpce, ip = _get(ctx, "aws:SourceVpce"), _get(ctx, "aws:SourceIp")
        for name in networks:
            net = self.m.networks[name]
            if vpce is not None and vpce in net.endpoint_ids(services):
                return True
            if ip is not None and V.reachable_from_cidrs(services) and any(
                    ipaddress.ip_address(ip) in ipaddress.ip_network(c) for c in net.cidrs):
                return True
        return False

    @staticmethod
    def before(until: str | None, ctx) -> bool:
        if until is None:
            return True
        now = _get(ctx, "aws:CurrentTime")
        return now is not None and _time(now) < _time(until)

    @staticmethod
    def service_exempt(ctx) -> bool:
        return _get(ctx, "aws:PrincipalIsAWSService") == "true" or _get(ctx, "aws:ViaAWSService") == "true"

    def grant_holds(self, g: Grant, services, ctx) -> bool:
        return self.in_networks(g.networks, services, ctx) and self.before(g.until, ctx)

    def grants_of(self, who: str | None, asset: str) -> list[Grant]:
        return [g for g in self.m.grants if g.asset == asset and g.principal == who]

    def account_of(self, arn: str | None) -> str | None:
        parts = (arn or "").split(":")
        return parts[4] if len(parts) > 5 and parts[0] == "arn" else None

    # -- who may obtain a role ----------------------------------------------- #
    def obtains(self, role: str) -> frozenset[Hop] | None:
        """The hops the spec lets reach role `role` (declared name); None when its trust is
        unsaid. A service way is a hop only through a declared passer: the service assumes
        the role for whoever passed it."""
        p = self.m.principals[role]
        if p.trust is None:
            return None
        hops = {Hop(PASS, passer, service) for passer, service in p.passers}
        for w in p.trust:
            if w.via == T.ROLE:
                hops.add(Hop(ASSUME, w.subject))
            elif w.via == T.ACCOUNT:
                hops.add(Hop(ACCOUNT, w.subject))
            elif w.via == T.IDENTITY_CENTER:
                hops.add(Hop(IDENTITY_CENTER, w.subject))
            elif w.via in (T.GITHUB, T.IRSA):
                hops.add(Hop(WEB_IDENTITY, *self.web_identity(p, w)))
        return frozenset(hops)

    def web_identity(self, p: Principal, w) -> tuple[str, str]:
        """(the OIDC provider's ARN in the role's account, the token subject) of a GitHub or IRSA way."""
        if w.via == T.GITHUB:
            (word, value), = w.qualifiers
            issuer, subject = T.GITHUB_ISSUER, f"repo:{w.subject}:{word}:{value}"
        else:
            issuer = w.subject
            subject = f"system:serviceaccount:{w.qualifier('namespace')}:{w.qualifier('service_account')}"
        return f"arn:{self.m.deployment.partition}:iam::{p.account}:oidc-provider/{issuer}", subject

    # -- the question ------------------------------------------------------- #
    def permits(self, q: Question) -> bool:
        return self.through_endpoint(q) and self._permits(q)

    def through_endpoint(self, q: Question) -> bool:
        """A request through one of the spec's endpoints must be one the spec routes
        through it: a principal's grants via that network, or its duties there."""
        vpce = _get(q.context, "aws:SourceVpce")
        places = [(net, svc) for net in self.m.networks.values() for svc, vid in net.endpoints
                  if vid == vpce and svc in V.POLICED_ENDPOINT_SERVICES]
        who = self.role_names.get(q.principal or "")
        if places and ":accesspoint/" in q.resource:  # the endpoint policy names the grantee's own access point
            behind = self.behind(q.resource)
            if behind is None or behind[0].principal != who:
                return False
            q = Question(q.principal, q.action, behind[1], q.context, q.star)
        return not places or any(self._endpoint_lets(net, svc, who, q) for net, svc in places)

    def behind(self, resource: str):
        """A resource named through one of the spec's access points: (the access point, the
        same resource named through its bucket), or None."""
        head, _, path = resource.partition(":accesspoint/")
        name, _, rest = path.partition("/")
        ap = self.access_points.get(f"{head}:accesspoint/{name}")
        if ap is None or (rest and not rest.startswith("object/")):
            return None
        return ap, self.m.assets[ap.bucket].arn + ("/" + rest.removeprefix("object/") if rest else "")

    def _endpoint_lets(self, net, svc: str, who: str | None, q: Question) -> bool:
        if svc == "kms":
            return any(q.resource == k.arn and who in k.admins and q.action in V.KMS_ADMIN_ACTIONS
                       for k in self.m.keys.values())
        for asset in self.m.assets.values():
            if asset.kind not in V.kinds_reached_through(svc):
                continue
            kind = V.ASSET_KINDS[asset.kind]
            on_itself = kind.reach != V.PARTS and q.resource == asset.arn
            on_parts = kind.reach != V.SELF and q.resource.startswith(asset.arn + "/")
            for g in self.grants_of(who, asset.name):
                if net.name not in g.networks:
                    continue
                for action, scope in V.VERBS[(asset.kind, g.verb)].actions:
                    if action != q.action or scope == V.KEY_VIA_S3:
                        continue
                    if scope == V.ACCOUNT:
                        if q.resource == "*":
                            return True
                    elif on_parts if scope in (V.OBJECT, V.API) else on_itself:
                        return True
            if asset.authorizer is not None and net.name in asset.authorizer.networks \
                    and on_parts and q.action in V.VERBS[("api", "invoke")].actions_with(V.API):
                return True  # anyone: the stage's Cognito authorizer decides who
            union = {n for g in self.m.grants if g.asset == asset.name for n in g.networks}
            if net.name in union:
                if (on_itself and who in asset.admins and q.action in kind.admin_actions) or (
                        on_parts and who in asset.breakglass and q.action in V.S3_BREAKGLASS_ACTIONS):
                    return True
        return False

    def _permits(self, q: Question) -> bool:
        who = self.role_names.get(q.principal or "")
        iam = q.principal is not None and q.principal.startswith("arn:")
        star = q.star and iam
        service = q.action.split(":", 1)[0].lower()
        if service == "kms":
            for key in self.m.keys.values():
                if q.resource == key.arn:
                    return self.kms(key, who, q)
        elif service == "ecr" and q.action.lower() == "ecr:getauthorizationtoken":
            return star or any(self.grant_holds(g, V.ASSET_SERVICES["repository"], q.context)
                               for g in self.m.grants if g.principal == who
                               and self.m.assets[g.asset].kind == "repository")
        if service == "s3" and ":accesspoint/" in q.resource:
            return self.through_access_point(who, q, star)
        for kind in V.ASSET_KINDS.values():
            if kind.service == service:
                for asset in self.m.assets_of(kind.name):
                    if kind.names(asset.arn, q.resource):
                        return self.by_kind[kind.name](asset, who, q, star)
        raise ValueError(f"the spec does not govern {q.action} on {q.resource}")

    def through_access_point(self, who: str | None, q: Question, star: bool) -> bool:
        """Only the grantee an access point serves, only for what it may do on the bucket,
        and then exactly what the spec lets it do there. Access points the spec does not
        declare reach nothing: the bucket denies its data to them and allows them nothing else."""
        found = self.behind(q.resource)
        if found is None or found[0].principal != who:
            return False
        ap, resource = found
        asset = self.m.assets[ap.bucket]
        translated = Question(q.principal, q.action, resource, q.context, q.star)
        if q.action not in own_s3_actions(self.m, asset, who) or (q.action in V.S3_OBJECT_DATA_ACTIONS + (V.S3_BYPASS_GOVERNANCE,)) != (resource != asset.arn):
            return False
        return self.s3(asset, who, translated, star, via_access_point=True)

    def _same_account(self, principal: str | None, asset_account: str) -> bool:
        return self.account_of(principal) == asset_account

    def s3(self, asset: Asset, who: str | None, q: Question, star: bool, via_access_point: bool = False) -> bool:
        """A request on the bucket; on a bucket reached through access points, a direct
        request for data is denied, and a grant's other actions are no longer the grant's."""
        ctx, action = q.context, q.action
        direct_only = asset.access_points == "always" and not via_access_point
        if _get(ctx, "aws:SecureTransport") == "false":
            return False
        tls = _get(ctx, "s3:TlsVersion")
        if tls is not None and float(tls) < 1.2:
            return False
        age = _get(ctx, "s3:signatureAge")
        if age is not None and float(age) > asset.signature_age_ms:
            return False  # a presigned URL older than the bucket allows
        days = _get(ctx, "s3:object-lock-remaining-retention-days")
        if (asset.object_lock and action in ("s3:PutObject", "s3:PutObjectRetention") and days is not None
                and float(days) > asset.object_lock[1]):
            return False  # no lock beyond the declared period
        grants = [g for g in self.m.grants if g.asset == asset.name]
        union = sorted({n for g in grants for n in g.networks})
        if not self.in_networks(union, ("s3",), ctx) and not self.service_exempt(ctx):
            return False
        is_object = q.resource.startswith(asset.arn + "/")
        same_account = self._same_account(q.principal, asset.account)
        entitled, holds = self.s3_grants(asset, who, q, is_object)
        if direct_only and (action in V.S3_OBJECT_DATA_ACTIONS or action in V.S3_BUCKET_DATA_ACTIONS):
            return False
        if direct_only:
            entitled = False  # the identity policies grant through the access point only
        if action in V.S3_OBJECT_DATA_ACTIONS or action in V.S3_BUCKET_DATA_ACTIONS:
            if action == "s3:PutObject" and not self.encryption_ok(asset, ctx):
                return False
            if (action == "s3:DeleteObjectVersion" and who in asset.breakglass and is_object
                    and self.in_networks(union, ("s3",), ctx)):
                return True  # breakglass works from the bucket's networks, not through services
            return holds
        if entitled:  # a verb's other actions (GetBucketLocation) hold exactly where the grant does
            return holds
        if action == V.S3_BYPASS_GOVERNANCE:
            return who in asset.breakglass and is_object and (not direct_only or (star and same_account))
        same = same_account
        if action in V.S3_PERIMETER_ACTIONS:
            return who in asset.admins and (action in V.S3_ADMIN_ACTIONS or star) and same
        if action in V.S3_ADMIN_ACTIONS and who in asset.admins and not is_object:
            return True
        return star and same

    def s3_grants(self, asset: Asset, who: str | None, q: Question, is_object: bool) -> tuple[bool, bool]:
        """(does a grant of `who` name this action on this kind of resource, does one hold here)."""
        entitled = holds = False
        key = q.resource[len(asset.arn) + 1:] if is_object else None
        for g in self.grants_of(who, asset.name):
            for a, scope in V.VERBS[("bucket", g.verb)].actions:
                if a != q.action or scope == V.KEY_VIA_S3 or (scope == V.OBJECT) != is_object:
                    continue
                entitled = True
                if not self.grant_holds(g, ("s3",), q.context):
                    continue
                if scope == V.OBJECT:
                    holds |= key.startswith(g.prefix)
                elif scope == V.BUCKET_PREFIX:
                    prefix = _get(q.context, "s3:prefix")
                    holds |= not g.prefix or (prefix is not None and prefix.startswith(g.prefix))
                else:
                    holds = True
        return entitled, holds

    def encryption_ok(self, asset: Asset, ctx) -> bool:
        sse = _get(ctx, "s3:x-amz-server-side-encryption")
        key = _get(ctx, "s3:x-amz-server-side-encryption-aws-kms-key-id")
        if _get(ctx, "s3:x-amz-server-side-encryption-customer-algorithm") is not None:
            return False
        if sse is not None and sse != "aws:kms":
            return False
        if sse == "aws:kms" and key is None:
            return False  # S3 would use the AWS managed key
        return key is None or key == self.m.keys[asset.key].arn

    def service_key_use(self, key, q: Question) -> bool:
        """What the spec lets an AWS service principal do with a key: CloudWatch Logs of the
        key's region, for the flow-log group's encryption context only (compiler/flow_logs.py)."""
        dest = flow_logs.destination(self.m)
        return (dest is not None and dest.key == key.name and q.principal == dest.logs_principal
                and q.action in flow_logs.LOGS_KEY_ACTIONS
                and _get(q.context, flow_logs.LOGS_CONTEXT_KEY) == dest.arn)

    def kms(self, key, who: str | None, q: Question) -> bool:
        ctx, action = q.context, q.action
        if self.service_key_use(key, q):
            return True
        if action in V.KMS_CRYPTO_ACTIONS:
            buckets = [a for a in self.m.assets_of("bucket") if a.key == key.name]
            for asset in buckets:
                for g in self.grants_of(who, asset.name):
                    verb = V.VERBS[("bucket", g.verb)]
                    if action not in verb.actions_with(V.KEY_VIA_S3) or not self.before(g.until, ctx):
                        continue
                    via = _get(ctx, "kms:ViaService") == f"s3.{key.region}.{DNS_SUFFIX[self.m.deployment.partition]}"
                    caller = _get(ctx, "kms:CallerAccount") == self.m.principals[who].account
                    arn = _get(ctx, "kms:EncryptionContext:aws:s3:arn")
                    scoped = arn is not None and (arn == asset.arn or arn.startswith(f"{asset.arn}/{g.prefix}"))
                    if via and caller and scoped:
                        return True
            return False
        if action == "kms:PutKeyPolicy" and _get(ctx, "kms:BypassPolicyLockoutSafetyCheck") == "true":
            return False
        return action in V.KMS_ADMIN_ACTIONS and who in key.admins

    def ecr(self, asset: Asset, who: str | None, q: Question, star: bool) -> bool:
        ctx, action = q.context, q.action
        services = V.ASSET_SERVICES["repository"]
        union = sorted({n for g in self.m.grants if g.asset == asset.name for n in g.networks})
        if not self.in_networks(union, services, ctx) and not self.service_exempt(ctx):
            return False
        if action in V.ECR_IMAGE_ACTIONS:
            return any(action in V.VERBS[("repository", g.verb)].actions_with(V.REPOSITORY)
                       and self.grant_holds(g, services, ctx) for g in self.grants_of(who, asset.name))
        same = self._same_account(q.principal, asset.account)
        if action in V.ECR_PERIMETER_ACTIONS:
            return who in asset.admins and (action in V.ECR_ADMIN_ACTIONS or star) and same
        if action in V.ECR_ADMIN_ACTIONS and who in asset.admins:
            return True
        return star and same

    def api(self, asset: Asset, who: str | None, q: Question, star: bool) -> bool:
        """Private APIs: the resource policy decides, through the API's networks only; a
        grant holds only on the methods and paths of its route (`compiler.routes`)."""
        services = V.ASSET_SERVICES["api"]
        if not self.in_networks(self.m.api_networks(asset.resource_name), services, q.context):
            return False
        if q.action not in V.VERBS[("api", "invoke")].actions_with(V.API):
            return star and self._same_account(q.principal, asset.account)
        if asset.authorizer is not None:  # the pool's users: the authorizer, not IAM, decides who
            iam = q.principal is not None and q.principal.startswith("arn:")
            # what a Principal-"*" Allow admits: unsigned callers, services, the account's own
            # principals, and another account's when its IAM policies allow too
            caller = not iam or star or self._same_account(q.principal, asset.account)
            return caller and self.in_networks(asset.authorizer.networks, services, q.context)
        route = q.resource[len(asset.arn) + 1:]  # "METHOD/path"
        return any(routes.covers(g.prefix, route) and self.grant_holds(g, services, q.context)
                   for g in self.grants_of(who, asset.name))

    def endpoint(self, asset: Asset, who: str | None, q: Question, star: bool) -> bool:
        """Invoking is the grants' alone, whatever else the caller holds; other SageMaker calls
        on the endpoint (describe, update) stay with IAM in its own account."""
        services = V.ASSET_SERVICES["endpoint"]
        if q.action in V.ASSET_KINDS["endpoint"].data_actions:
            if who in self.m.integration_roles(asset.name):  # through its API, from API Gateway's network
                return q.action in V.INTEGRATION_ACTIONS
            return any(q.action in V.VERBS[("endpoint", g.verb)].actions_with(V.ENDPOINT)
                       and self.grant_holds(g, services, q.context) for g in self.grants_of(who, asset.name))
        return star and self._same_account(q.principal, asset.account)


def own_s3_actions(model: Model, asset: Asset, who: str | None) -> set[str]:
    """The S3 actions a principal's grants and breakglass duty name on a bucket: all that
    its access point lets through."""
    own = {a for g in model.grants_of(who) if g.asset == asset.name
           for a, scope in V.VERBS[("bucket", g.verb)].actions if scope != V.KEY_VIA_S3}
    return own | (set(V.S3_BREAKGLASS_ACTIONS) if who in asset.breakglass else set())


def permits(model: Model, question: Question) -> bool:
    """Whether the spec permits the request (see the module docstring)."""
    return Meaning(model).permits(question)
