"""From grants to Allow statements: resources and conditions for each verb scope.

Identity policies and the cross-account allows of resource policies are built by
the same function, so a grant means the same thing on both sides.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from operator import attrgetter
from typing import Iterable, NamedTuple

from slpc.compiler import routes
from slpc.compiler import verbs as V
from slpc.compiler.model import AccessPoint, Asset, Grant, Model
from slpc.compiler.values import DNS_SUFFIX

from . import perimeter
from slpc.policy.document import CONTENT, Condition, Principal, Statement

SCOPE_SERVICES = {
    V.OBJECT: ("s3",), V.BUCKET_PREFIX: ("s3",), V.BUCKET: ("s3",),
    V.REPOSITORY: V.ASSET_SERVICES["repository"], V.ACCOUNT: V.ASSET_SERVICES["repository"],
    V.ENDPOINT: V.ASSET_SERVICES["endpoint"], V.API: V.ASSET_SERVICES["api"],
}
SCOPE_LABEL = {
    V.OBJECT: "Objects", V.BUCKET_PREFIX: "Listing", V.BUCKET: "Bucket", V.KEY_VIA_S3: "Key",
    V.REPOSITORY: "Images", V.ACCOUNT: "Token", V.ENDPOINT: "", V.API: "",
}
S3_KEY_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
S3_SCOPES = (V.OBJECT, V.BUCKET_PREFIX, V.BUCKET)


_RUN = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=None)  # a build asks for the same few words' Sid a hundred thousand times
def sid(*words: str) -> str:
    """A readable Sid from words: alphanumeric CamelCase (IAM allows only [A-Za-z0-9])."""
    parts = []
    for w in words:
        for run in _RUN.findall(w):
            parts.append(run[:1].upper() + run[1:])
    return "".join(parts) or "Statement"


_content = attrgetter(*CONTENT)  # what `replace(s, sid=None)` keeps, read without building a statement


def unique_sids(statements: Iterable[Statement]) -> tuple[Statement, ...]:
    """Drop exact duplicates, then number repeated Sids (2, 3, ...) in order."""
    out: list[Statement] = []
    seen_content: set[tuple] = set()
    counts: dict[str, int] = {}
    for s in statements:
        key = _content(s)
        if key in seen_content:
            continue
        seen_content.add(key)
        n = counts.get(s.sid or "", 0) + 1
        counts[s.sid or ""] = n
        out.append(s if n == 1 else replace(s, sid=f"{s.sid}{n}"))
    return tuple(out)


class Use(NamedTuple):
    """The actions of one grant that share a scope (a named tuple: a build makes one for
    every scope of every grant, several times over)."""

    grant: Grant
    scope: str
    actions: tuple[str, ...]


def uses(model: Model, grants: Iterable[Grant] | None = None) -> list[Use]:
    assets = model.assets
    return [Use(g, scope, actions) for g in (model.grants if grants is None else grants)
            for scope, actions in V.VERBS[(assets[g.asset].kind, g.verb)].scopes]


def object_resources(asset: Asset, prefixes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({f"{asset.arn}/{p}*" for p in prefixes}))


def prefix_patterns(prefixes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({f"{p}*" for p in prefixes}))


def key_via_s3(model: Model, asset: Asset) -> tuple[Condition, ...]:
    """Decrypt/encrypt only when S3 calls KMS for this caller (kms:ViaService)."""
    return (Condition("StringEquals", "kms:ViaService", (s3_service_name(model, asset),)),)


def s3_service_name(model: Model, asset: Asset) -> str:
    """S3's endpoint name in the key's region, as kms:ViaService reports it."""
    return f"s3.{model.keys[asset.key].region}.{DNS_SUFFIX[model.deployment.partition]}"


def key_context(asset: Asset, prefix: str) -> Condition:
    """S3's encryption context is the object ARN, or the bucket ARN with S3 Bucket Keys."""
    return Condition("StringLike", S3_KEY_CONTEXT, (asset.arn, f"{asset.arn}/{prefix}*"))


def ap_resources(ap: AccessPoint, scope: str, prefix: str = "") -> tuple[str, ...]:
    """What an action of this scope names through an access point: its objects, or itself."""
    return (f"{ap.arn}/object/{prefix}*",) if scope == V.OBJECT else (ap.arn,)


def scope_target(model: Model, use: Use) -> tuple[tuple[str, ...], tuple[Condition, ...]]:
    """Resources and scope conditions (prefix, via-service) of a use; on a bucket reached
    through access points, its data actions name the grantee's access point."""
    g, asset = use.grant, model.assets[use.grant.asset]
    ap = model.access_points(asset.name).get(g.principal) if use.scope in S3_SCOPES else None
    if ap is not None:
        conds = (Condition("StringLike", "s3:prefix", prefix_patterns([g.prefix])),) \
            if use.scope == V.BUCKET_PREFIX and g.prefix else ()
        return ap_resources(ap, use.scope, g.prefix), conds
    if use.scope == V.OBJECT:
        return object_resources(asset, [g.prefix]), ()
    if use.scope == V.BUCKET_PREFIX:
        conds = (Condition("StringLike", "s3:prefix", prefix_patterns([g.prefix])),) if g.prefix else ()
        return (asset.arn,), conds
    if use.scope in (V.BUCKET, V.REPOSITORY, V.ENDPOINT):
        return (asset.arn,), ()
    if use.scope == V.ACCOUNT:
        return ("*",), ()
    if use.scope == V.API:
        return routes.patterns(asset.arn, g.prefix), ()
    if use.scope == V.KEY_VIA_S3:
        return (model.keys[asset.key].arn,), key_via_s3(model, asset) + (key_context(asset, g.prefix),)
    raise ValueError(f"unknown scope {use.scope}")


def allow_statements(model: Model, use: Use, principal: Principal | None = None,
                     resources: tuple[str, ...] | None = None,
                     extra: tuple[Condition, ...] = (), sid_prefix: str = "") -> list[Statement]:
    """The Allow statements of one use: one per way into the grant's networks.

    Key uses carry no network condition: S3 calls KMS on the caller's behalf, so
    network keys are absent there; the S3 side enforces the network instead.
    """
    g = use.grant
    target, scope_conds = scope_target(model, use)
    base = sid(sid_prefix, g.verb, g.asset, g.prefix, SCOPE_LABEL[use.scope])
    time = perimeter.before(g.until)
    if use.scope == V.KEY_VIA_S3:
        variants = [("", ())]
    else:
        variants = perimeter.inside(model, g.networks, SCOPE_SERVICES[use.scope])
        if len(variants) == 1:
            variants = [("", variants[0][1])]
    return [
        Statement("Allow", actions=tuple(sorted(use.actions)),
                  resources=target if resources is None else resources,
                  conditions=tuple(sorted(scope_conds + net + time + extra, key=_cond_order)),
                  sid=base + label, principal=principal)
        for label, net in variants
    ]


def _cond_order(c: Condition) -> tuple[str, str]:
    return (c.operator, c.key)
