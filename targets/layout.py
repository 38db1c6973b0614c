"""How each bucket is reached: directly, or through access points (`access_points`).

`auto` (the default) keeps a bucket direct while its exact policy fits S3's limit and
moves it behind access points when it does not; `always` and `never` are the
architect's choice. Resolved once, before anything is built, because identity,
endpoint and access point policies all follow the choice.
"""

from __future__ import annotations

from dataclasses import replace

from slpc.compiler.model import Asset, Model
from slpc.diagnostics import Diagnostic, error, warning
from slpc.policy.limits import RULES, measure

from slpc.policy.document import PolicyDocument

from .access_points import trusted_by_pattern
from .bucket import PATTERN_TRUST, bucket_policy
from .optimize import optimize

BUCKET_POLICY = "s3-bucket-policy"
ACCESS_POINTS_PER_REGION = 10_000  # S3's quota per account and region

REACHED = ("data requests come only through its access points, one per grantee (ARN or alias); "
           "direct requests on the bucket are denied")


def coarser(asset: Asset, doc: PolicyDocument) -> str | None:
    """What the manifest, summary and report say of a bucket reached through access points."""
    if asset.kind != "bucket" or asset.access_points != "always":
        return None
    return f"{REACHED}; {PATTERN_TRUST}" if trusted_by_pattern(doc) else REACHED


def resolve(model: Model) -> tuple[Model, list[Diagnostic]]:
    """The model with every bucket's `access_points` either "always" or "never"."""
    diags: list[Diagnostic] = []
    assets = dict(model.assets)
    for a in model.assets_of("bucket"):
        if a.access_points != "auto":
            continue
        exact = measure(BUCKET_POLICY, optimize(bucket_policy(model, replace(a, access_points="never"))[0]))
        limit = RULES[BUCKET_POLICY].limit
        mode = "always" if exact > limit else "never"
        assets[a.name] = replace(a, access_points=mode)
        if mode == "always":
            diags.append(warning("W353", f"bucket `{a.name}` is reached through access points", None,
                                 f"its exact policy is {exact:,} bytes, over S3's limit of {limit:,}: {REACHED}; "
                                 "write `access_points always` (or `never`) to choose"))
    resolved = replace(model, assets=assets)
    per_region: dict[tuple[str, str], int] = {}
    for a in resolved.assets_of("bucket"):
        key = (a.account, a.region or "")
        per_region[key] = per_region.get(key, 0) + len(resolved.access_points(a.name))
    for (account, region), n in sorted(per_region.items()):
        if n > ACCESS_POINTS_PER_REGION:
            diags.append(error("E503", f"{n:,} access points in account {account}, {region}: over S3's quota of "
                                       f"{ACCESS_POINTS_PER_REGION:,}", None,
                               "set `access_points never` on buckets whose exact policy fits, or move buckets "
                               "to another account or region"))
    return resolved, diags
