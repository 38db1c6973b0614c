"""The spec's edge requests: a finite, deterministic set of Questions built from the Model.

Every duty the spec gives (a grant's actions on its resources, an admin's or
breakglass's actions, a key's use through S3) is asked from where it holds, and
again one step off each edge the compiled policies must enforce: another network
(each declared endpoint, a foreign endpoint, each CIDR and an address outside them,
none), through an AWS service, the second the grant expires, a wrong encryption
header, a wrong `kms:ViaService` / caller account / encryption context, an object
outside the prefix or off the route; and by every other role and by outsiders. An API
stage's integration role is asked on its backend, a Cognito stage's unsigned callers from
each network. Any evaluator can
answer these; `slpc validate` uses them so that dropping a Deny the spec needs is
seen even when nothing in the two policy texts points at the request that shows it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from slpc.compiler import routes
from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Model
from slpc.compiler.values import DNS_SUFFIX

from .meaning import Question

FOREIGN_VPCE = "vpce-0ffffffffffffffff"
OUTSIDE_ACCOUNT = "999999999999"
SSE, SSE_KEY, SSE_C = ("s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
                       "s3:x-amz-server-side-encryption-customer-algorithm")
NOW = "2026-01-01T00:00:00Z"  # the instant of requests that do not test an expiry


def _shift(instant: str, seconds: int) -> str:
    t = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def network_contexts(model: Model) -> list[dict[str, str]]:
    """Each declared endpoint, a foreign one, each CIDR's first address, an address
    outside every CIDR, and no network at all."""
    out: list[dict[str, str]] = [{"aws:SourceVpce": v} for n in model.networks.values() for _s, v in n.endpoints]
    out.append({"aws:SourceVpce": FOREIGN_VPCE})
    nets = [ipaddress.ip_network(c, strict=False) for n in model.networks.values() for c in n.cidrs]
    out += [{"aws:SourceIp": str(n.network_address)} for n in nets]
    outside = next(ip for ip in ("198.18.0.1", "100.64.0.1", "192.0.2.1", "9.9.9.9")
                   if not any(ipaddress.ip_address(ip) in n for n in nets if n.version == 4))
    out += [{"aws:SourceIp": outside}, {}]
    return list({tuple(sorted(c.items())): c for c in out}.values())


def sse_contexts(model: Model, bucket: Asset) -> list[dict[str, str]]:
    """PutObject encryption headers: the bucket's key, none, KMS without a key id,
    SSE-S3, another key, a customer-provided key, DSSE."""
    own = model.keys[bucket.key].arn  # every bucket names its key (E313)
    other = next((k.arn for k in model.keys.values() if k.arn != own), own.replace("-", "f", 1))
    return [{SSE: "aws:kms", SSE_KEY: own}, {}, {SSE: "aws:kms"}, {SSE: "AES256"},
            {SSE: "aws:kms", SSE_KEY: other}, {SSE_C: "AES256"}, {SSE: "aws:kms:dsse", SSE_KEY: own}]


class _Builder:
    def __init__(self, model: Model):
        self.m = model
        self.nets = network_contexts(model)
        self.roles = sorted(p.arn for p in model.principals.values())
        accounts = sorted({p.account for p in model.principals.values()} | {model.deployment.account})
        self.outsiders = [f"arn:aws:iam::{a}:role/slpc-outsider" for a in accounts + [OUTSIDE_ACCOUNT]]
        self.out: dict[tuple, Question] = {}

    def add(self, who: str | None, action: str, resource: str, ctx: dict, star: bool) -> None:
        key = (who, action, resource, tuple(sorted(ctx.items())), star)
        self.out.setdefault(key, Question(who, action, resource, dict(ctx), star))

    def duty(self, who: str, action: str, resource: str, base: dict, variants: list[dict]) -> None:
        """`who` may do this under `base`; ask it there and off each edge, and ask everyone else."""
        for ctx in [base] + [_clean({**base, **v}) for v in variants]:
            for star in (False, True):
                self.add(who, action, resource, ctx, star)
        nets = [{k: v for k, v in base.items() if k not in ("aws:SourceVpce", "aws:SourceIp")} | n
                for n in self.nets]
        for via in ({}, {"aws:ViaAWSService": "true"}):
            for ctx in nets:
                self.add(who, action, resource, {**ctx, **via}, True)
        for other in self.roles + self.outsiders + [None]:
            if other != who:
                for ctx in (base, {**base, "aws:ViaAWSService": "true"}):
                    for star in (False, True):
                        self.add(other, action, resource, ctx, star)

    def where(self, networks, services) -> dict[str, str]:
        for name in networks:
            net = self.m.networks[name]
            ids = net.endpoint_ids(services)
            if ids:
                return {"aws:SourceVpce": ids[0]}
            if net.cidrs and V.reachable_from_cidrs(services):
                return {"aws:SourceIp": str(ipaddress.ip_network(net.cidrs[0], strict=False).network_address)}
        return {}

    def grants(self) -> None:
        for g in self.m.grants:
            asset = self.m.assets[g.asset]
            who = self.m.principals[g.principal].arn
            services = V.ASSET_SERVICES[asset.kind]
            base = {"aws:CurrentTime": _shift(g.until, -3600) if g.until else NOW, **self.where(g.networks, services)}
            if asset.kind == "bucket":
                base |= {"aws:SecureTransport": "true"}
            timing = [{"aws:CurrentTime": _shift(g.until, -1)}, {"aws:CurrentTime": g.until}] if g.until else []
            for action, scope in V.VERBS[(asset.kind, g.verb)].actions:
                variants = list(timing)
                ctx = dict(base)
                if scope == V.OBJECT:
                    resources = [f"{asset.arn}/{g.prefix}x"] + ([f"{asset.arn}/x"] if g.prefix else [])
                    if action == "s3:PutObject":
                        ctx |= sse_contexts(self.m, asset)[0]
                        variants += [{SSE: None, SSE_KEY: None} | s for s in sse_contexts(self.m, asset)[1:]]
                elif scope == V.BUCKET_PREFIX:
                    resources = [asset.arn]
                    ctx |= {"s3:prefix": g.prefix}
                    variants += [{"s3:prefix": "x"}]
                elif scope == V.KEY_VIA_S3:
                    self.key_use(g, asset, who, action, base["aws:CurrentTime"], timing)
                    continue
                elif scope == V.ACCOUNT:
                    resources = ["*"]
                elif scope == V.API:
                    # on the route and just off it (routes.matches: the request itself, or under it)
                    on = routes.matches(g.prefix)
                    resources = [f"{asset.arn}/{start}{'' if whole else 'x'}" for start, whole in on]
                    resources += [f"{asset.arn}/{start}x" for start, whole in on if whole]
                else:
                    resources = [asset.arn]
                for r in resources + self.through_access_points(asset, g.principal, resources):
                    self.duty(who, action, r, ctx, variants)

    def through_access_points(self, bucket: Asset, owner: str, resources) -> list[str]:
        """The same resources named through the owner's access point and through another's."""
        aps = self.m.access_points(bucket.name) if bucket.kind == "bucket" else {}
        if owner not in aps:
            return []
        others = [ap for who, ap in sorted(aps.items()) if who != owner][:1]
        out = []
        for r in resources:
            rest = r[len(bucket.arn):]  # "" or "/key"
            for ap in [aps[owner]] + others:
                out.append(ap.arn + (f"/object{rest}" if rest else ""))
        return out

    def key_use(self, g, bucket: Asset, who: str, action: str, now: str, timing: list[dict]) -> None:
        key = self.m.keys[bucket.key]
        suffix = DNS_SUFFIX[self.m.deployment.partition]
        elsewhere = "eu-west-1" if key.region != "eu-west-1" else "eu-west-3"
        base = {"aws:CurrentTime": now, "kms:ViaService": f"s3.{key.region}.{suffix}",
                "kms:CallerAccount": self.m.principals[g.principal].account,
                "kms:EncryptionContext:aws:s3:arn": f"{bucket.arn}/{g.prefix}x"}
        variants = timing + [{"kms:ViaService": f"s3.{elsewhere}.{suffix}"}, {"kms:ViaService": None},
                             {"kms:CallerAccount": OUTSIDE_ACCOUNT},
                             {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::slpc-elsewhere/x"}]
        self.duty(who, action, key.arn, base, variants)

    def duties(self) -> None:
        for asset in self.m.assets.values():
            services = V.ASSET_SERVICES[asset.kind]
            union = sorted({n for g in self.m.grants if g.asset == asset.name for n in g.networks})
            base = {"aws:CurrentTime": NOW, **self.where(union, services)}
            for name in asset.admins:
                for action in V.ASSET_KINDS[asset.kind].admin_actions:
                    self.duty(self.m.principals[name].arn, action, asset.arn, base, [])
            for name in asset.breakglass:
                for action in V.S3_BREAKGLASS_ACTIONS:
                    for r in [f"{asset.arn}/x"] + self.through_access_points(asset, name, [f"{asset.arn}/x"]):
                        self.duty(self.m.principals[name].arn, action, r, base, [])
        for key in self.m.keys.values():
            for name in key.admins:
                for action in V.KMS_ADMIN_ACTIONS:
                    variants = [{"kms:BypassPolicyLockoutSafetyCheck": "true"}] if action == "kms:PutKeyPolicy" else []
                    self.duty(self.m.principals[name].arn, action, key.arn, {"aws:CurrentTime": NOW}, variants)


    def api_callers(self) -> None:
        """An API stage's integration role on its backend (every invoke action, from no network
        and from each), and a Cognito stage's unsigned callers from each network."""
        services = V.ASSET_SERVICES["api"]
        for a in self.m.assets_of("api"):
            if a.backend:
                backend = self.m.assets[a.backend]
                base = {"aws:CurrentTime": NOW, "aws:RequestedRegion": backend.region}
                for action in V.ASSET_KINDS["endpoint"].data_actions:
                    self.duty(self.m.principals[a.integration_role].arn, action, backend.arn, base, [])
            if a.authorizer:
                base = {"aws:CurrentTime": NOW, **self.where(a.authorizer.networks, services)}
                for ctx in [base] + self.nets:
                    for who in [None] + self.outsiders[-1:]:
                        self.add(who, "execute-api:Invoke", f"{a.arn}/POST/x", {"aws:CurrentTime": NOW, **ctx},
                                 False)


def _clean(ctx: dict) -> dict:
    return {k: v for k, v in ctx.items() if v is not None}


def questions(model: Model) -> list[Question]:
    """The spec's edge requests, in a deterministic order."""
    b = _Builder(model)
    b.grants()
    b.duties()
    b.api_callers()
    return list(b.out.values())
