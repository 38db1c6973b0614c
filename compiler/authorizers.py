"""API stages whose callers are Amazon Cognito user pool users, not IAM roles.

`authorizer cognito "POOL-ARN" scopes [...] from NETWORK, ...` says that the stage's
methods use a COGNITO_USER_POOLS authorizer of that pool with those authorization scopes
(an access token holding one of them passes), and
that its users call from those networks. Their requests carry a token, not a role's
signature, so the API's resource policy cannot name them: no grant to a role may name
the stage (E350), and the policies admit any caller through the networks' execute-api
endpoints, leaving who among them to the authorizer.
"""

from __future__ import annotations

import re
from dataclasses import replace

from slpc.dsl import ast
from slpc.diagnostics import did_you_mean

from . import networks as netcheck
from .model import Asset, Authorizer, Deployment, Grant, Network
from .verbs import ASSET_SERVICES

KINDS = ("cognito",)
# arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID (a user pool id is its region,
# `_` and letters and digits: "eu-central-1_AbCdEf123")
_POOL = re.compile(r"arn:([a-z-]+):cognito-idp:([a-z0-9-]+):(\d{12}):userpool/([a-z0-9-]+)_([0-9A-Za-z]+)")
# An OAuth 2.0 scope token (RFC 6749 3.3): printable ASCII but space, `"` and `\`; Cognito's
# custom scopes are RESOURCE-SERVER-ID/SCOPE-NAME, its own e.g. `openid`, `email`.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")


def resolve(c, dep: Deployment, networks: dict[str, Network], assets: dict[str, Asset]) -> None:
    """Give each API stage its authorizer (in `assets`), or report why not."""
    for name, asset in sorted(assets.items()):
        decl = c.decls[name]
        z = getattr(decl, "authorizer", None)
        if z is None:
            continue
        if asset.kind != "api":
            c.err("E347", f"`authorizer` belongs to API Gateway endpoints, not SageMaker endpoint `{name}`",
                  z.kind.span, "remove it: SageMaker endpoints are invoked by roles (grants)")
            continue
        ok = _kind(c, z) & _pool(c, z, dep, asset) & _scopes(c, z) & _networks(c, z, networks, asset)
        if ok:
            nets = tuple(dict.fromkeys(n.text for n in z.networks))
            assets[name] = replace(asset, authorizer=Authorizer(z.pool.value, tuple(s.value for s in z.scopes), nets))


def _kind(c, z: ast.Authorizer) -> bool:
    if z.kind.text not in KINDS:
        c.err("E347", f"unknown authorizer `{z.kind.text}`", z.kind.span,
              did_you_mean(z.kind.text, KINDS) or "authorizers: " + ", ".join(KINDS))
        return False
    return True


def _pool(c, z: ast.Authorizer, dep: Deployment, stage: Asset) -> bool:
    m = _POOL.fullmatch(z.pool.value)
    if not m or m.group(2) != m.group(4):
        c.err("E347", f'"{z.pool.value}" is not a Cognito user pool ARN', z.pool.span,
              'a user pool ARN looks like "arn:aws:cognito-idp:eu-central-1:111122223333:userpool/'
              'eu-central-1_AbCdEf123" (its id starts with its region)')
        return False
    if m.group(1) != dep.partition:
        c.err("E347", f'the user pool is in partition "{m.group(1)}", not the deployment\'s "{dep.partition}"',
              z.pool.span, "name a user pool of the deployment's partition")
        return False
    if m.group(2) != stage.region:
        c.err("E348", f'the user pool is in region "{m.group(2)}", and the API stage `{stage.name}` in '
              f'"{stage.region}"', z.pool.span,
              "slpc keeps an API's callers' identities in the API's region: name a user pool of that region")
        return False
    return True


def _scopes(c, z: ast.Authorizer) -> bool:
    if not z.scopes:
        c.err("E349", "the authorizer requires no scope", z.pool.span.to(z.span),
              'name the scopes of which a caller\'s access token must hold one: scopes ["RESOURCE-SERVER/SCOPE"]')
        return False
    seen: set[str] = set()
    for s in z.scopes:
        if not _SCOPE.fullmatch(s.value):
            c.err("E349", f'"{s.value}" is not an OAuth scope', s.span,
                  "a scope is 1-256 printable characters without spaces, quotes or backslashes, "
                  'e.g. "chat-api/invoke"')
            return False
        if s.value in seen:
            c.err("E349", f'the scope "{s.value}" is listed twice', s.span, "list each scope once")
            return False
        seen.add(s.value)
    return True


def _networks(c, z: ast.Authorizer, networks: dict[str, Network], stage: Asset) -> bool:
    """Each network names a way into the stage: an execute-api endpoint (E403) of the stage's
    region (E448: an interface endpoint reaches only its own region's private APIs)."""
    ok = True
    for n in z.networks:
        if not isinstance(c.decls.get(n.text), ast.Network):
            c.unknown(n, ast.Network, "network", "network of an authorizer")
            ok = False
        elif n.text in networks and not networks[n.text].endpoint_ids(ASSET_SERVICES["api"]):
            c.err("E403", f"network `{n.text}` has no execute-api endpoint, the only way into a private API",
                  n.span, 'add `endpoint execute-api "vpce-..."` to the network, or name another one')
            ok = False
        elif n.text in networks and not netcheck.other_region(c, n.span, networks[n.text], stage.name, stage.kind,
                                                             stage.region, ASSET_SERVICES["api"]):
            ok = False
    return ok


def no_role_grants(c, grants: list[Grant], assets: dict[str, Asset]) -> None:
    """E350: a grant to a role on a stage whose callers are the pool's users."""
    for g in grants:
        a = assets.get(g.asset)
        if a is not None and a.authorizer is not None:
            c.err("E350", f"API stage `{a.name}` authorizes its callers with a Cognito user pool, not IAM roles",
                  g.principal_span or g.span,
                  "its methods check the pool's tokens, never a role's signature: remove the grant, or declare "
                  "the stage's users and networks on its `authorizer` line")
