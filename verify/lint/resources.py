"""Resource ARN checks against the catalogue's ARN formats."""

from __future__ import annotations

from slpc.policy.matching import has_wildcard

from slpc.verify.catalogue import Catalogue

from .registry import RESOURCE, Context, FindingType, check, covered_entries, items, memo

E, W, S = FindingType.ERROR, FindingType.WARNING, FindingType.SUGGESTION

# API Gateway resource policies may use the short form execute-api:/stage/method/path.
_SHORT_FORMS = ("execute-api:",)


@check("EMPTY_ARRAY_RESOURCE", S, "Resource is an empty list, so the statement does nothing.")
def empty_array_resource(ctx: Context):
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            if s.get(element) == []:
                yield f"{s.path}.{element}", "This statement includes no resources and does not affect the policy."


@check("INVALID_ARN_PREFIX", E, 'A resource that is neither "*" nor an ARN.', scope=RESOURCE)
def invalid_arn_prefix(cat: Catalogue, value: str):
    if value != "*" and not value.startswith("arn:") and not value.startswith(_SHORT_FORMS):
        yield f"The resource {value!r} must be \"*\" or start with arn:."


@check("MISSING_ARN_FIELD", E, "An ARN with fewer than six colon-separated fields.", scope=RESOURCE)
def missing_arn_field(cat: Catalogue, value: str):
    if value.startswith("arn:") and len(value.split(":", 5)) < 6:
        yield f"The ARN {value!r} needs the form arn:partition:service:region:account:resource."


@check("INVALID_ARN_SERVICE_CASE", E, "An ARN whose service segment is not lower case.", scope=RESOURCE)
def invalid_arn_service_case(cat: Catalogue, value: str):
    parts = value.split(":", 5)
    if parts[0] == "arn" and len(parts) == 6 and parts[2] != parts[2].lower() and cat.knows_arn_service(parts[2]):
        yield f"Write the service {parts[2]!r} in the ARN in lower case."


@check("INVALID_ARN_RESOURCE", E, "An ARN of a known service that fits none of that service's resource formats.", scope=RESOURCE)
def invalid_arn_resource(cat: Catalogue, value: str):
    parts = value.split(":", 5)
    svc = parts[2] if len(parts) == 6 else ""
    if value.startswith("arn:") and svc == svc.lower() and not has_wildcard(svc) and cat.knows_arn_service(svc):
        if not cat.resource_types_for_arn(value):
            yield f"The ARN {value} matches no resource type of service {svc}."


@check(
    "RESOURCE_MISMATCH",
    W,
    "An ARN that none of the statement's actions can act on (e.g. s3:GetObject on a bucket ARN).",
    access_analyzer=False,
)
def resource_mismatch(ctx: Context):
    cat = ctx.catalogue
    # a build repeats few Action lists and each ARN in several policies: both asked once
    formats_of, fits = memo(cat, "RESOURCE_MISMATCH:formats"), memo(cat, "RESOURCE_MISMATCH:fits")
    for s in ctx.statements:
        patterns = s.strings["Action"]
        if patterns not in formats_of:
            formats_of[patterns] = _formats(cat, patterns)
        formats = formats_of[patterns]
        if formats is None:
            continue
        for i, arn in enumerate(s.strings["Resource"]):
            if not arn.startswith("arn:") or arn.count(":") < 5:
                continue
            fit = fits.get((formats, arn))
            if fit is None:
                fit = fits[formats, arn] = cat.fits_some(formats, arn)
            if not fit:
                actions = [act for a in patterns for act in cat.expand(a)]
                names = ", ".join(sorted({a.full_name for a in actions})[:3])
                yield items(s, "Resource")[i][0], f"No action in this statement ({names}{', ...' if len(actions) > 3 else ''}) applies to {arn}."


def _formats(cat: Catalogue, patterns: tuple[str, ...]) -> frozenset[str] | None:
    """The ARN formats the actions act on; None when there is nothing to judge."""
    if not patterns or any(a == "*" or has_wildcard(a.partition(":")[0]) for a in patterns):
        return None  # NotAction or all-service wildcards: too broad to judge
    if not any(map(cat.expand, patterns)):
        return None  # unknown actions are INVALID_ACTION's business
    return frozenset().union(*map(cat.resource_formats, patterns))


@check("REDUNDANT_RESOURCE", S, "A resource another entry of the same list already covers.")
def redundant_resource(ctx: Context):
    for s in ctx.statements:
        for element in ("Resource", "NotResource"):
            for path, by in covered_entries(list(items(s, element)), ignore_case=False):
                yield path, f"This resource is redundant: {by} already covers it."
