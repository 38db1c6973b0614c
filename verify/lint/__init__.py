"""Offline policy validator: Access Analyzer's policy checks, answered locally.

``lint(text, policy_type, resource_type)`` parses the text, runs every check in
the registry and returns findings that carry Access Analyzer's issue codes and
finding types. Each check family is a module; importing it registers its checks.
"""

from __future__ import annotations

import json
from typing import Iterable

from slpc.verify.catalogue import Catalogue, default

# Import order is registration order: document grammar first, size last.
from . import structure, principals, org, trust, actions, resources, condition_checks, size  # noqa: F401,I001  (registration)
from .registry import (
    POLICY_TYPES, REGISTRY, RESOURCE_TYPES, ROLE_TRUST, Check, Context, Finding, FindingType, entry_hits, run_check,
)

__all__ = ["lint", "Finding", "FindingType", "Check", "REGISTRY", "POLICY_TYPES", "RESOURCE_TYPES", "ROLE_TRUST"]

_SYNTAX = "JSON_SYNTAX_ERROR"


def _decode(text: str) -> tuple[object, str | None]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Fix the JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}."
    if not isinstance(doc, dict):
        return None, "A policy must be a JSON object."
    return doc, None


def lint(
    policy_text: str, policy_type: str, resource_type: str | None = None, catalogue: Catalogue | None = None,
    checks: Iterable[Check] | None = None,
) -> list[Finding]:
    """Every finding for one policy, ordered by statement then check registration; with
    `checks` (in registration order), only theirs (a JSON syntax error is always reported)."""
    if policy_type not in POLICY_TYPES:
        raise ValueError(f"unknown policy type {policy_type!r}; expected one of {', '.join(POLICY_TYPES)}")
    if resource_type is not None and (policy_type != "resource" or resource_type not in RESOURCE_TYPES):
        raise ValueError(
            f"resource type {resource_type!r} needs --type resource and one of {', '.join(RESOURCE_TYPES)}"
        )
    doc, error = _decode(policy_text)
    catalogue = catalogue or default()  # (kept here: a trust policy's reading holds it weakly)
    # a trust policy may also name the claim keys of the identity providers it trusts
    reading = trust.claims_catalogue(catalogue) if resource_type == ROLE_TRUST else catalogue
    ctx = Context(policy_text, doc, policy_type, resource_type, reading, syntax_error=error)
    if error:
        return run_check(REGISTRY[_SYNTAX], ctx)
    findings = []
    hits = entry_hits(ctx)
    for chk in REGISTRY.values() if checks is None else checks:
        if chk.judge is None or chk.id in hits:  # (most entry-scoped checks find nothing)
            findings += run_check(chk, ctx)
    return sorted(findings, key=lambda f: -1 if f.statement_index is None else f.statement_index)
