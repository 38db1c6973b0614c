"""API stages in front of a SageMaker endpoint: the `backend` and `integration_role` checks.

An API stage may name the spec's SageMaker endpoint its integration calls and the role
API Gateway calls it as (the integration's credentials). That role is admitted by the SCP
to invoke its backend from outside every network of the spec (its requests come from API
Gateway, not from a VPC endpoint), so it must be able to do nothing else: a role of the
deployment account, obtained only by API Gateway, with no grant, duty or role to pass or
assume, calling one backend (E428).
"""

from __future__ import annotations

from dataclasses import replace

from slpc.dsl import ast

from .model import Asset, Grant, Principal
from .trust import ROLE, SERVICE

APIGATEWAY = "apigateway"


def resolve(c, account: str, principals: dict[str, Principal], assets: dict[str, Asset],
            grants: list[Grant], keys: dict) -> None:
    """Give each API stage its backend and integration role (in `assets`), or report why not."""
    backends: dict[str, set[str]] = {}
    for name, asset in sorted(assets.items()):
        decl = c.decls[name]
        if not isinstance(decl, ast.Endpoint) or (decl.backend is None and decl.integration_role is None):
            continue
        if asset.kind != "api":
            attr, node = ("backend", decl.backend) if decl.backend else ("integration_role", decl.integration_role)
            c.err("E345", f"`{attr}` belongs to API Gateway endpoints, not SageMaker endpoint `{name}`",
                  node.span, "name the backend in the API stage in front of this endpoint: "
                  f"`backend {name}` in an `apigateway` endpoint block")
            continue
        if decl.backend is None or decl.integration_role is None:
            given, missing = ("backend", "integration_role") if decl.integration_role is None \
                else ("integration_role", "backend")
            c.err("E345", f"endpoint `{name}` has `{given}` but no `{missing}`", decl.name.span,
                  "API Gateway calls a backend only with a credentials role: give both "
                  "`backend ENDPOINT` and `integration_role ROLE`")
            continue
        backend, role = _backend(c, decl, assets), _role(c, decl, principals)
        if backend is None or role is None:
            continue
        assets[name] = replace(asset, backend=backend, integration_role=role)
        backends.setdefault(role, set()).add(backend)
    for role, ends in sorted(backends.items()):
        _confined(c, account, principals[role], ends, grants, assets, keys, principals)


def _backend(c, decl: ast.Endpoint, assets: dict[str, Asset]) -> str | None:
    node = decl.backend
    target = c.decls.get(node.text)
    if not isinstance(target, ast.Endpoint):
        c.unknown(node, ast.Endpoint, "endpoint", "backend of an API")
        return None
    if target.sagemaker is None:
        c.err("E346", f"the backend `{node.text}` is not a SageMaker endpoint", node.span,
              "an API stage's backend is a spec `endpoint` with `sagemaker \"NAME\"`")
        return None
    return node.text if node.text in assets else None  # an error of its own was reported


def _role(c, decl: ast.Endpoint, principals: dict[str, Principal]) -> str | None:
    node = decl.integration_role
    if not isinstance(c.decls.get(node.text), ast.Role):
        c.unknown(node, ast.Role, "role", "integration role of an API")
        return None
    return node.text if node.text in principals else None  # an error of its own was reported


def _confined(c, account: str, p: Principal, backends: set[str], grants: list[Grant], assets: dict[str, Asset],
              keys: dict, principals: dict[str, Principal]) -> None:
    """E428 unless the integration role can do nothing but call its one backend."""
    problems = []
    if p.account != account:
        problems.append(f"it is in account {p.account}, not the deployment's")
    if p.trust is None or not p.trust or any((w.via, w.subject) != (SERVICE, APIGATEWAY) for w in p.trust):
        problems.append("its trust is not exactly `assumed_by service apigateway`")
    if any(g.principal == p.name for g in grants):
        problems.append("it holds grants")
    if any(p.name in a.admins + a.breakglass for a in assets.values()) or any(
            p.name in k.admins for k in keys.values()) or any(p.name in o.admins for o in principals.values()):
        problems.append("it holds duties")
    if any(p.name == x for o in principals.values() for x, _ in o.passers) or any(
            w.via == ROLE and w.subject == p.name for o in principals.values() for w in o.trust or ()):
        problems.append("it may pass or assume other roles")
    if len(backends) > 1:
        problems.append("it calls several backends (" + ", ".join(sorted(backends)) + ")")
    if problems:
        c.err("E428", f"integration role `{p.name}` could do more than invoke its backend: " + "; ".join(problems),
              c.decls[p.name].name.span,
              "the SCP admits this role to invoke its backend from API Gateway's network: declare a role of its "
              "own for each backend, `assumed_by service apigateway` and nothing else, with no grants or duties")
