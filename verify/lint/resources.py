"""Resource ARN checks against the catalogue's ARN formats."""

from __future__ import annotations

from slpc.policy.matching import has_wildcard

from .registry import Context, FindingType, check, covered_entries, items

E, W, S = FindingType.ERROR, FindingType.WARNING, FindingType.SUGGESTION

# API Gateway resource policies may use the short form execute-api:/stage/method/path.
_SHORT_FORMS = ("execute-api:",)


def _arns(ctx: Context):
    """(statement, path, value, parts) for each Resource/NotResource string that claims to be an ARN."""
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            for path, value in items(s, element):
                if value.startswith("arn:"):
                    yield s, path, value, value.split(":", 5)


@check("EMPTY_ARRAY_RESOURCE", S, "Resource is an empty list, so the statement does nothing.")
def empty_array_resource(ctx: Context):
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            if s.get(element) == []:
                yield f"{s.path}.{element}", "This statement includes no resources and does not affect the policy."


@check("INVALID_ARN_PREFIX", E, 'A resource that is neither "*" nor an ARN.')
def invalid_arn_prefix(ctx: Context):
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            for path, value in items(s, element):
                if value != "*" and not value.startswith("arn:") and not value.startswith(_SHORT_FORMS):
                    yield path, f"The resource {value!r} must be \"*\" or start with arn:."


@check("MISSING_ARN_FIELD", E, "An ARN with fewer than six colon-separated fields.")
def missing_arn_field(ctx: Context):
    for _, path, value, parts in _arns(ctx):
        if len(parts) < 6:
            yield path, f"The ARN {value!r} needs the form arn:partition:service:region:account:resource."


@check("INVALID_ARN_SERVICE_CASE", E, "An ARN whose service segment is not lower case.")
def invalid_arn_service_case(ctx: Context):
    for _, path, value, parts in _arns(ctx):
        if len(parts) == 6 and parts[2] != parts[2].lower() and ctx.catalogue.knows_arn_service(parts[2]):
            yield path, f"Write the service {parts[2]!r} in the ARN in lower case."


@check("INVALID_ARN_RESOURCE", E, "An ARN of a known service that fits none of that service's resource formats.")
def invalid_arn_resource(ctx: Context):
    for _, path, value, parts in _arns(ctx):
        svc = parts[2] if len(parts) == 6 else ""
        if svc == svc.lower() and not has_wildcard(svc) and ctx.catalogue.knows_arn_service(svc):
            if not ctx.catalogue.resource_types_for_arn(value):
                yield path, f"The ARN {value} matches no resource type of service {svc}."


@check(
    "RESOURCE_MISMATCH",
    W,
    "An ARN that none of the statement's actions can act on (e.g. s3:GetObject on a bucket ARN).",
    access_analyzer=False,
)
def resource_mismatch(ctx: Context):
    cat = ctx.catalogue
    for s in ctx.statements:
        patterns = [a for _, a in items(s, "Action")]
        if not patterns or any(a == "*" or has_wildcard(a.partition(":")[0]) for a in patterns):
            continue  # NotAction or all-service wildcards: too broad to judge
        if not any(map(cat.expand, patterns)):
            continue  # unknown actions are INVALID_ACTION's business
        formats = frozenset().union(*map(cat.resource_formats, patterns))
        for path, arn in items(s, "Resource"):
            if not arn.startswith("arn:") or len(arn.split(":", 5)) < 6:
                continue
            if not cat.fits_some(formats, arn):
                actions = [act for a in patterns for act in cat.expand(a)]
                names = ", ".join(sorted({a.full_name for a in actions})[:3])
                yield path, f"No action in this statement ({names}{', ...' if len(actions) > 3 else ''}) applies to {arn}."


@check("REDUNDANT_RESOURCE", S, "A resource another entry of the same list already covers.")
def redundant_resource(ctx: Context):
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            for path, by in covered_entries(list(items(s, element)), ignore_case=False):
                yield path, f"This resource is redundant: {by} already covers it."
