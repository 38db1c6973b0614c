"""Fitting optimized policies into AWS's size limits, or saying which grants do not fit.

- `pack`: statements into as few documents of one kind as the limit allows (SCPs,
  RCPs and a role's managed policies).
- `fit_identity`: a role whose identity statements exceed the 10,240 characters
  IAM allows inline gets managed policies instead (at most the deployment's
  `managed_policies_per_role`, each within 6,144 characters).
- `oversize`: the error for a policy that cannot fit. It names the grants that
  weigh most (each measured on its own) and says how the grants, in source order,
  would fit in several policies: a change that compiles.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Sequence

from slpc.compiler.model import AccessPoint, Grant, Model, Network
from slpc.diagnostics import Diagnostic, error

from slpc.policy.document import PolicyDocument, Statement
from .api import api_policy
from .artifact import Artifact
from .access_points import KIND as ACCESS_POINT_POLICY
from .asset_policies import BY_ARTIFACT_KIND
from .bucket import access_point_document
from .endpoints import EXACT, FORMS, allowed_forms, endpoint_policy, form_of
from .grants import unique_sids
from .identity import identity_policy
from .key import key_policy
from slpc.policy.limits import RULES, measure
from .optimize import optimize, ored


INLINE, MANAGED = "iam-identity-policy", "iam-managed-policy"
HEAVIEST = 3  # grants named in an oversize error


class _Sizes:
    """Sizes of documents of one kind, by statement: a policy's size is its wrapper
    plus the sum of its statements' (each with its separator), as every counting
    rule serialises statements independently; so packing is linear, not quadratic."""

    def __init__(self, kind: str):
        self.kind, self.limit = kind, RULES[kind].limit
        self.wrapper: int | None = None

    def of(self, s: Statement) -> int:
        one = measure(self.kind, PolicyDocument((s,)))
        two = measure(self.kind, PolicyDocument((s, s)))
        if self.wrapper is None:
            self.wrapper = 2 * one - two
        return two - one

    def room(self, used: int) -> int:
        """Room left beside statements of total size `used` (after the first `of`)."""
        assert self.wrapper is not None
        return self.limit - self.wrapper - used

    def largest_prefix(self, used: int, s: Statement, resources: Sequence[str]) -> int:
        """How many of the resources, taken in order, fit beside `used` (binary search)."""
        lo, hi = 0, len(resources)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.of(replace(s, resources=tuple(resources[:mid]))) <= self.room(used):
                lo = mid
            else:
                hi = mid - 1
        return lo


def pack(kind: str, statements: Sequence[Statement]) -> tuple[list[PolicyDocument], list[Statement]]:
    """Statements into few policies within AWS's limit for `kind`; also the statements
    too large for any policy even with a single resource (the caller's error).

    A statement goes whole into the first policy with room (first fit, in order).
    One too large for any policy is split by its Resource list, filling the room
    left in earlier policies first: a statement on a subset of the resources allows
    or denies a subset of the requests, and the pieces add up to the whole. One too
    large even with a single resource is split by the values of its longest ORed
    condition (a positive operator: the statement holds when the key has one of the
    values), never a negated one, whose pieces would not add up. Sids are made unique
    first and pieces are numbered as they are placed (skipping taken names), so the
    Sid measured is the Sid written.
    """
    statements = unique_sids(statements)
    taken = {s.sid for s in statements}
    sizes = _Sizes(kind)
    statements = [piece for s in statements for piece in _by_values(s, sizes, taken)]
    bins: list[list[Statement]] = []
    used: list[int] = []
    too_big: list[Statement] = []
    for s in statements:
        if sizes.of(replace(s, resources=s.resources[:1])) > sizes.room(0):
            too_big.append(s)
            continue
        w = sizes.of(s)
        home = next((i for i, u in enumerate(used) if w <= sizes.room(u)), None)
        if home is not None:
            bins[home].append(s)
            used[home] += w
            continue
        if not s.resources:  # NotResource: no piece of it means a part of it; a new policy, whole
            bins.append([s])
            used.append(w)
            continue
        rest, pieces = list(s.resources), 0
        for i in list(range(len(bins))) + [None]:  # the room left in each policy, then new policies
            while rest:
                if i is None:
                    bins.append([])
                    used.append(0)
                at = len(bins) - 1 if i is None else i
                piece = replace(s, sid=_next_sid(s.sid, taken) if pieces and s.sid else s.sid)
                n = sizes.largest_prefix(used[at], piece, rest)
                if n == 0:
                    if i is None:  # even alone with one resource (its numbered Sid is longer): refuse the rest
                        bins.pop()
                        used.pop()
                        too_big.append(replace(s, resources=tuple(rest)))
                        rest = []
                    break
                piece = replace(piece, resources=tuple(rest[:n]))
                bins[at].append(piece)
                used[at] += sizes.of(piece)
                pieces += 1
                rest = rest[n:]
                if i is not None:
                    break
            if not rest:
                break
    return [PolicyDocument(tuple(b)) for b in bins], too_big


def _by_values(s: Statement, sizes: _Sizes, taken: set) -> list[Statement]:
    """The statement, or if even its one-resource form does not fit an empty policy, its pieces
    by the values of its longest ORed condition (each the longest run of values that fits)."""
    if sizes.of(replace(s, resources=s.resources[:1])) <= sizes.room(0):
        return [s]
    ored_at = [i for i, c in enumerate(s.conditions) if ored(c.operator) and c.operator != "Null" and len(c.values) > 1]
    if not ored_at:
        return [s]
    at = max(ored_at, key=lambda i: len(s.conditions[i].values))
    cond, rest, pieces = s.conditions[at], list(s.conditions[at].values), []

    def piece(values) -> Statement:  # measured with the longest Sid a piece can get
        conds = s.conditions[:at] + (cond._replace(values=tuple(values)),) + s.conditions[at + 1:]
        return replace(s, conditions=conds)

    longest = f"{s.sid}{len(rest)}" if s.sid else None
    while rest:
        lo, hi = 0, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if sizes.of(replace(piece(rest[:mid]), sid=longest)) <= sizes.room(0):
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            return [s]  # one value alone does not fit: the caller reports it
        pieces.append(replace(piece(rest[:lo]), sid=_next_sid(s.sid, taken) if pieces and s.sid else s.sid))
        rest = rest[lo:]
    return pieces


def _next_sid(sid: str, taken: set) -> str:
    n = 2
    while f"{sid}{n}" in taken:
        n += 1
    taken.add(f"{sid}{n}")
    return f"{sid}{n}"


# --------------------------------------------------------------------------- #
# Identity policies: inline, or managed when they do not fit inline


def fit_identity(model: Model, art: Artifact) -> tuple[list[Artifact], list[Diagnostic]]:
    """The role's inline policy as is, or its statements packed into managed policies."""
    if art.size <= RULES[INLINE].limit:
        return [art], []
    quota = model.deployment.managed_policies
    docs, too_big = pack(MANAGED, art.document.statements)
    if too_big or len(docs) > quota:
        rule = RULES[MANAGED]
        msg = (f"the identity policies of `{art.name}` are {measure(INLINE, art.document):,} characters: over "
               f"the {RULES[INLINE].limit:,} IAM allows inline, and more than {quota} managed "
               f"policies of {rule.limit:,} characters (managed_policies_per_role)")
        return [], [oversize(model, art, "E502", msg, _identity_fits(model, quota))]
    stem = art.path.removesuffix(".json")
    return [replace(art, kind=MANAGED, path=f"{stem}/managed-{n}.json", document=doc)
            for n, doc in enumerate(docs, 1)], []


def managed_policy_name(model: Model, art: Artifact) -> str:
    """The IAM name of a managed policy: deployment, role and number, within IAM's
    128 characters (a role name has at most 64), so every IaC target names it alike."""
    label = re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", model.deployment.name)[:40]
    return f"slpc-{label}-{art.target.rsplit('/', 1)[1]}-{managed_number(art)}"


def managed_number(art: Artifact) -> str:
    """`iam/<account>/<role>/managed-3.json` -> "3"."""
    return art.path.rsplit("-", 1)[1].removesuffix(".json")


def _identity_fits(model: Model, quota: int) -> Callable[[PolicyDocument], bool]:
    def fits(doc: PolicyDocument) -> bool:
        if measure(INLINE, doc) <= RULES[INLINE].limit:
            return True
        docs, too_big = pack(MANAGED, doc.statements)
        return not too_big and len(docs) <= quota
    return fits


# --------------------------------------------------------------------------- #
# The error for a policy that cannot fit


def _rebuild(model: Model, art: Artifact, ap: AccessPoint | None = None) -> PolicyDocument | None:
    """The artifact's policy built again from (a variant of) the model, optimized."""
    kind, name = art.kind, art.name
    if kind in (INLINE, MANAGED):
        doc = identity_policy(model, model.principals[name])
    elif kind in BY_ARTIFACT_KIND:
        doc = BY_ARTIFACT_KIND[kind].build(model, model.assets[name])[0]
    elif kind == "kms-key-policy":
        doc = key_policy(model, model.keys[name], account_wide=art.coarser is not None)
    elif kind == "apigateway-resource-policy":
        doc = api_policy(model, [a for a in model.assets_of("api") if a.resource_name == name])
    elif kind == ACCESS_POINT_POLICY:  # `ap`: the access point in the whole model (names may differ here)
        doc = access_point_document(model, model.assets[ap.bucket], ap.principal)
    elif kind == "vpc-endpoint-policy":
        nets = _networks_of(model, art)
        doc = endpoint_policy(model, nets, name.split(".", 1)[1], form_of(art.coarser))[0] \
            if nets else None
    else:
        return None
    return optimize(doc) if doc is not None else None


def _touches(model: Model, art: Artifact, g: Grant) -> bool:
    """Whether the grant can shape this artifact's policy (the grants worth weighing)."""
    kind, name = art.kind, art.name
    if kind in (INLINE, MANAGED):
        return g.principal == name
    asset = model.assets[g.asset]
    if kind == "kms-key-policy":
        return asset.key == name
    if kind == "apigateway-resource-policy":
        return asset.kind == "api" and asset.resource_name == name
    if kind == "vpc-endpoint-policy":
        return any(v == art.target for n in g.networks for _, v in model.networks[n].endpoints)
    if kind == ACCESS_POINT_POLICY:
        ap = model.access_point_at(art.target)
        return (g.asset, g.principal) == (ap.bucket, ap.principal)
    return g.asset == name


def _with(model: Model, grants: Sequence[Grant]) -> Model:
    """The model with only these grants, in spec order: the grants that cannot shape the
    artifact are left out, as its policy is the same without them, and a model of a few
    grants is indexed in microseconds, so weighing each of 10,000 grants stays linear."""
    return replace(model, grants=model.in_spec_order(grants))


def _describe(g: Grant) -> str:
    prefix = f' "{g.prefix}"' if g.prefix else ""
    return f"allow {g.principal} {g.verb} {g.asset}{prefix}"


def _at(g: Grant) -> str:
    return f"{g.span.file}:{g.span.line}"


# When a policy's grants fit only in several: (what a split moves whole, what they fit, the change).
SPLIT = {
    "s3-bucket-policy": ("grants", "bucket policies", "put each run's data in a bucket of its own"),
    "ecr-repository-policy": ("grants", "repository policies", "push each run's images to a repository of its own"),
    "kms-key-policy": ("buckets", "key policies", "encrypt each run's buckets with a key of its own"),
    "vpc-endpoint-policy": ("grants", "endpoint policies",
                            "give each run's roles a network of their own, with its own endpoint"),
    "apigateway-resource-policy": ("grants", "API policies", "serve each run's stages from an API of its own"),
    ACCESS_POINT_POLICY: ("grants", "access points", "give each run a role of its own (each role gets its own "
                                                     "access point)"),
    INLINE: ("grants", "roles", "give each run a role of its own (or raise managed_policies_per_role, at most 20 "
                                "after raising the IAM quota)"),
}
SPLIT[MANAGED] = SPLIT[INLINE]
MARGIN = 0.98  # a run must fit with room for the longer name of the asset or role it moves to


def oversize(model: Model, art: Artifact, code: str = "E501", message: str | None = None,
             fits: Callable[[PolicyDocument], bool] | None = None) -> Diagnostic:
    """The error for an artifact over its limit: the grants that weigh most (each
    measured on its own: one small build per grant, so the error comes fast at any
    scale), and how the grants would fit in several policies, in source order."""
    rule = RULES[art.kind]
    size = measure(art.kind, art.document)
    message = message or (f"the {rule.what} for `{art.name}` is {size:,} {rule.unit}, "
                          f"over AWS's limit of {rule.limit:,}")
    fits = fits or (lambda doc: measure(art.kind, doc) <= rule.limit)
    ap = model.access_point_at(art.target) if art.kind == ACCESS_POINT_POLICY else None
    if _rebuild(model, art, ap) is None:  # not built from grants (guardrails)
        return error(code, message, None, "narrow the spec")
    touching = [g for g in model.grants if _touches(model, art, g)]
    fixed = [g for g in touching if g.span is None]  # not written by the user: never moved
    mine = sorted((g for g in touching if g.span is not None), key=lambda g: (g.span.file, g.span.line, g.span.col))
    def size(grants) -> int:  # a role with no grant has no policy
        doc = _rebuild(_with(model, fixed + list(grants)), art, ap)
        return 0 if doc is None else measure(art.kind, doc)

    empty = size(())
    weights = sorted(((size((g,)) - empty, g) for g in mine),
                     key=lambda wg: (-wg[0], wg[1].span.file, wg[1].span.line))
    notes = tuple(f"{g.span.file}:{g.span.line}:{g.span.col}: `{_describe(g)}` takes {w:,} {rule.unit} on its own"
                  for w, g in weights[:HEAVIEST])
    span = weights[0][1].span if weights else None
    hint = _split_hint(model, art, mine, fixed, fits, ap)
    if art.kind == "s3-bucket-policy" and model.assets[art.name].access_points == "never":
        hint += "; or remove `access_points never` to reach it through access points, one per grantee"
    if art.kind == "vpc-endpoint-policy":
        hint += _coarser_allowed(model, art)
    if art.kind == "kms-key-policy" and model.keys[art.name].key_policy == "exact":
        hint += ("; or remove `key_policy exact` to let it name the grantees' accounts instead (W352), stated "
                 "in the compile summary and the manifest")
    return Diagnostic("error", code, message, span, hint, notes)


def _networks_of(model: Model, art: Artifact) -> list[Network]:
    """The networks an endpoint policy's endpoint sits in."""
    return [n for n in model.networks.values() if any(v == art.target for _, v in n.endpoints)]


def _coarser_allowed(model: Model, art: Artifact) -> str:
    """For an endpoint policy held to a form by its networks' `endpoint_policies`: how
    to let it take the next form of its service's ladder (stated when it does)."""
    nets = _networks_of(model, art)
    service = art.name.split(".", 1)[1]
    if allowed_forms(service, nets) == FORMS.get(service, (EXACT,)):
        return ""
    strict = sorted(n.name for n in nets if n.endpoint_policies != "auto")
    return (f"; or remove `endpoint_policies` from network{'s' * (len(strict) > 1)} {', '.join(strict)} to let "
            "it take a coarser form, stated in the compile summary and the manifest")


def _units(art: Artifact, grants: list[Grant]) -> list[list[Grant]]:
    """What a split moves whole: grants, or (for a key) the grants of one bucket."""
    if SPLIT[art.kind][0] == "grants":
        return [[g] for g in grants]
    by: dict[str, list[Grant]] = {}
    for g in grants:
        by.setdefault(g.asset, []).append(g)
    return list(by.values())


def _split_hint(model: Model, art: Artifact, grants: list[Grant], fixed: list[Grant], fits,
                ap: AccessPoint | None = None) -> str:
    """Runs of the artifact's grants in source order, each the longest that fits (binary
    search, so about log2(n) builds a run): a change that compiles, said as one."""
    units, (moved, noun, change) = _units(art, grants), SPLIT[art.kind]
    limit = RULES[art.kind].limit

    def ok(run: list[list[Grant]]) -> bool:
        doc = _rebuild(_with(model, fixed + [g for u in run for g in u]), art, ap)
        if doc is None:
            return True
        # the identity side never names its role; elsewhere the new asset's or role's name may be longer
        return fits(doc) and (art.kind in (INLINE, MANAGED) or measure(art.kind, doc) <= limit * MARGIN)

    if not units:
        return "no grant of the spec shapes this policy: narrow the spec"
    if ok(units):
        return "its grants alone would fit: its admins, breakglass roles or networks make it too large"
    runs, start = [], 0
    while start < len(units):
        lo, hi = start, len(units)  # units[start:lo] fits (or is empty); none longer than units[start:hi] can
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ok(units[start:mid]):
                lo = mid
            else:
                hi = mid - 1
        if lo == start:
            g = units[start][0]
            if moved == "buckets":
                return f"the grants on bucket `{g.asset}` alone do not fit one key policy: split the bucket"
            return f"even `{_describe(g)}` ({_at(g)}) does not fit alone: narrow it"
        runs.append(units[start:lo])
        start = lo
    if moved == "buckets":
        parts = "; ".join(", ".join(u[0].asset for u in run) for run in runs)
    else:
        parts = ", ".join(f"{len(run)} from {_at(run[0][0])}" for run in runs)
    return f"its {len(units)} {moved}, in source order, fit {len(runs)} {noun} ({parts}): {change}"
