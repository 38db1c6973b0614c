"""Grammar checks: the document and statement elements AWS requires or rejects."""

from __future__ import annotations

import json
from collections import Counter

from .registry import POLICY_TYPES, ROLE_TRUST, STRING_ELEMENTS, Context, FindingType, check

E, W, S = FindingType.ERROR, FindingType.WARNING, FindingType.SUGGESTION

VERSIONS = ("2012-10-17", "2008-10-17")
TOP_ELEMENTS = {"Version", "Id", "Statement"}
STATEMENT_ELEMENTS = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
}
EXCLUSIVE_PAIRS = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))
# Policy types whose statements must say which resources they cover. ECR
# repository policies may omit Resource (the repository is implied).
# A role trust policy names no Resource: the role is the resource (IAM refuses one).
_RESOURCE_OPTIONAL = {("resource", "AWS::ECR::Repository"), ("resource", ROLE_TRUST)}
# Duplicate Sids are rejected by IAM and Organizations; resource policies only
# recommend unique ones.
_SIDS_REQUIRED = {"identity", "scp", "rcp"}


@check("JSON_SYNTAX_ERROR", E, "The policy text is not a JSON object.")
def json_syntax(ctx: Context):
    if ctx.syntax_error:
        yield "$", ctx.syntax_error


@check("INVALID_POLICY_ELEMENT", E, "An element name that the policy grammar does not define.")
def invalid_element(ctx: Context):
    for name in ctx.doc:
        if name not in TOP_ELEMENTS:
            yield f"$.{name}", f"The policy element {name} is not valid."
    for s in ctx.statements:
        for name in s.body:
            if name not in STATEMENT_ELEMENTS:
                yield f"{s.path}.{name}", f"The statement element {name} is not valid."


@check("MISSING_VERSION", W, "No Version element: policy variables would be read as literal text.")
def missing_version(ctx: Context):
    if "Version" not in ctx.doc:
        yield "$", 'Add "Version": "2012-10-17" so policy variables and newer features work.'


@check("INVALID_VERSION", E, "Version is not one of the two dates AWS defines.")
def invalid_version(ctx: Context):
    v = ctx.doc.get("Version")
    if v is not None and v not in VERSIONS:
        yield "$.Version", f"The version {json.dumps(v)} is not valid. Use \"2012-10-17\"."


@check("MISSING_STATEMENT", E, "The policy has no statement.")
def missing_statement(ctx: Context):
    if ctx.doc.get("Statement") in (None, []):
        yield "$.Statement" if "Statement" in ctx.doc else "$", "Add a statement to the policy."


@check("DATA_TYPE_MISMATCH", E, "An element has the wrong JSON type (e.g. a number where a string belongs).")
def data_type_mismatch(ctx: Context):
    stmts = ctx.doc.get("Statement")
    if stmts is not None and not isinstance(stmts, (dict, list)):
        yield "$.Statement", "Statement must be an object or an array of objects."
    if isinstance(stmts, list):
        for i, s in enumerate(stmts):
            if not isinstance(s, dict):
                yield f"$.Statement[{i}]", "A statement must be an object."
    for s in ctx.statements:
        body, get = s.body, s.get  # (an absent element reads as a well-typed default)
        for name in ("Sid", "Effect"):
            if not isinstance(get(name, ""), str):
                yield f"{s.path}.{name}", f"{name} must be a string."
        for name in STRING_ELEMENTS:
            v = get(name, "")
            if not (isinstance(v, str) or (isinstance(v, list) and len(s.strings[name]) == len(v))):
                yield f"{s.path}.{name}", f"{name} must be a string or an array of strings."
        for name in ("Principal", "NotPrincipal"):
            v = get(name, "*")
            if not (v == "*" or isinstance(v, dict)):
                yield f"{s.path}.{name}", f'{name} must be "*" or an object such as {{"AWS": [...]}}.'
        if "Condition" in body:
            cond = get("Condition")
            if not (isinstance(cond, dict) and all(isinstance(b, dict) for b in cond.values())):
                yield f"{s.path}.Condition", "Condition must be an object of operators, each an object of keys."


@check("MISSING_EFFECT", E, "A statement without Effect.")
def missing_effect(ctx: Context):
    for s in ctx.statements:
        if "Effect" not in s.body:
            yield s.path, "Add an Effect element with the value Allow or Deny."


@check("INVALID_EFFECT", E, "Effect is neither Allow nor Deny (the value is case-sensitive).")
def invalid_effect(ctx: Context):
    for s in ctx.statements:
        e = s.get("Effect")
        if isinstance(e, str) and e not in ("Allow", "Deny"):
            yield f"{s.path}.Effect", f"The effect {e!r} is not valid. Use Allow or Deny."


@check("MISSING_ACTION", E, "A statement without Action or NotAction.")
def missing_action(ctx: Context):
    for s in ctx.statements:
        if "Action" not in s.body and "NotAction" not in s.body:
            yield s.path, "Add an Action or NotAction element to the statement."


@check("MISSING_RESOURCE", E, "A statement without Resource or NotResource where the policy type needs one.")
def missing_resource(ctx: Context):
    if (ctx.policy_type, ctx.resource_type) in _RESOURCE_OPTIONAL:
        return
    for s in ctx.statements:
        if "Resource" not in s.body and "NotResource" not in s.body:
            yield s.path, "Add a Resource or NotResource element to the statement."


@check("UNSUPPORTED_ELEMENT_COMBINATION", E, "A statement uses both an element and its Not- form.")
def element_combination(ctx: Context):
    for s in ctx.statements:
        for a, b in EXCLUSIVE_PAIRS:
            if a in s.body and b in s.body:
                yield f"{s.path}.{b}", f"The elements {a} and {b} cannot be used in the same statement."


def _duplicate_sids(ctx: Context):
    sids = [sid for s in ctx.statements if isinstance(sid := s.get("Sid"), str) and sid]
    if len(set(sids)) == len(sids):
        return  # the usual case
    counts = Counter(sids)
    for s in ctx.statements:
        if isinstance(s.get("Sid"), str) and counts[s.get("Sid")] > 1:
            yield f"{s.path}.Sid", f"The Sid {s.get('Sid')!r} is used by more than one statement."


@check("UNIQUE_SIDS_REQUIRED", E, "Two statements share a Sid in a policy type that rejects that.",
       policy_types=_SIDS_REQUIRED)
def unique_sids_required(ctx: Context):
    yield from _duplicate_sids(ctx)


@check("UNIQUE_SIDS_RECOMMENDED", W, "Two statements share a Sid in a resource or endpoint policy.",
       policy_types=set(POLICY_TYPES) - _SIDS_REQUIRED)
def unique_sids_recommended(ctx: Context):
    yield from _duplicate_sids(ctx)


@check("EMPTY_SID_VALUE", S, "A Sid that is the empty string.")
def empty_sid(ctx: Context):
    for s in ctx.statements:
        if s.get("Sid") == "":
            yield f"{s.path}.Sid", "Give the Sid a value or remove it."


_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode  # json.dumps(..., sort_keys=True), built once


@check("REDUNDANT_STATEMENT", S, "A statement repeats an earlier one (Sid aside), so it grants nothing more.")
def redundant_statement(ctx: Context):
    seen: dict[str, int] = {}
    for s in ctx.statements:
        key = _SORTED_JSON({k: v for k, v in s.body.items() if k != "Sid"})
        if key in seen:
            yield s.path, f"This statement repeats statement {seen[key]}. Remove one of them."
        else:
            seen[key] = s.index
