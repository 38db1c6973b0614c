"""Action checks against the catalogue, plus the iam:PassRole guardrail."""

from __future__ import annotations

from slpc.policy.matching import has_wildcard, wildcard_match

from slpc.verify.catalogue import Catalogue

from .registry import ACTION, Context, FindingType, check, covered_entries, items, memo

E, SW, S = FindingType.ERROR, FindingType.SECURITY_WARNING, FindingType.SUGGESTION


def _action_items(ctx: Context):
    for s in ctx.statements:
        for element in ("Action", "NotAction"):
            for path, value in items(s, element):
                yield path, value


@check("EMPTY_ARRAY_ACTION", S, "Action is an empty list, so the statement does nothing.")
def empty_array_action(ctx: Context):
    for s in ctx.statements:
        for element in ("Action", "NotAction"):
            if s.get(element) == []:
                yield f"{s.path}.{element}", "This statement includes no actions and does not affect the policy."


@check("INVALID_SERVICE_IN_ACTION", E, "An action whose service prefix AWS does not define.", scope=ACTION)
def invalid_service_in_action(cat: Catalogue, value: str):
    prefix, sep, _ = value.partition(":")
    if sep and not has_wildcard(prefix) and cat.service(prefix) is None:
        yield f"The service {prefix} specified in the action does not exist."


@check("INVALID_ACTION", E, "An action (or action pattern) that names no action of its service.", scope=ACTION)
def invalid_action(cat: Catalogue, value: str):
    prefix, sep, name = value.partition(":")
    if value == "*":
        return
    if not sep or not name:
        yield f"The action {value!r} is not of the form service:ActionName."
    elif not has_wildcard(prefix) and cat.service(prefix) and not cat.expand(value):
        yield f"The action {value} does not exist in service {prefix}."


@check("WILDCARD_IN_SERVICE_NAME", S, "A wildcard inside a service prefix, which may match future services.")
def wildcard_in_service_name(ctx: Context):
    for path, value in _action_items(ctx):
        prefix, sep, _ = value.partition(":")
        if sep and has_wildcard(prefix):
            yield path, f"Avoid wildcards in the service name {prefix!r}; it may match other services."
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            for path, arn in items(s, element):
                parts = arn.split(":")
                if len(parts) > 2 and parts[0] == "arn" and has_wildcard(parts[2]) and parts[2] != "*":
                    yield path, f"Avoid wildcards in the service name {parts[2]!r}; it may match other services."


@check("REDUNDANT_ACTION", S, "An action another entry of the same list already covers.")
def redundant_action(ctx: Context):
    for s in ctx.statements:
        for element in ("Action", "NotAction"):
            for path, by in covered_entries(list(items(s, element)), ignore_case=True):
                yield path, f"This action is redundant: {by} already covers it."


_PASS_ROLE = "iam:PassRole"


def _pass_role_grants(ctx: Context, explicit: bool):
    """Allow statements granting iam:PassRole on wildcard resources with no PassedToService scope."""
    passes = memo(ctx.catalogue, "PASS_ROLE")  # a build repeats few Action lists
    for s in ctx.statements:
        actions = s.strings["Action"]
        found = passes.get(actions)
        if found is None:
            found = passes[actions] = (_passing(actions, explicit=False), _passing(actions, explicit=True))
        action = found[explicit]
        if action is None or s.get("Effect") != "Allow":
            continue
        block = s.get("Condition")
        if isinstance(block, dict) and any(
            isinstance(keys, dict) and any(k.lower() == "iam:passedtoservice" for k in keys) for keys in block.values()
        ):
            continue
        starred = [p for p, r in items(s, "Resource") if "*" in r and (r == "*" or r.split(":")[2:3] in (["iam"], ["*"]))]
        if starred:
            yield starred[0], f"{action} on a wildcard resource lets the caller pass any role to any service."


def _passing(actions: tuple[str, ...], explicit: bool) -> str | None:
    """The first action that is iam:PassRole itself (`explicit`) or a pattern matching it."""
    return next((a for a in actions if (a.lower() == _PASS_ROLE.lower()) == explicit
                 and wildcard_match(a, _PASS_ROLE, ignore_case=True)), None)


@check("PASS_ROLE_WITH_STAR_IN_RESOURCE", SW, "Allow iam:PassRole on a wildcard resource without iam:PassedToService.")
def pass_role_star_resource(ctx: Context):
    yield from _pass_role_grants(ctx, explicit=True)


@check(
    "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
    SW,
    "An action wildcard that includes iam:PassRole, on a wildcard resource, without iam:PassedToService.",
)
def pass_role_star_action_and_resource(ctx: Context):
    yield from _pass_role_grants(ctx, explicit=False)
