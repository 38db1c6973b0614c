"""Which asset kinds carry a resource policy of their own, one per asset: the artifact
kind, its folder and its builder. `build` writes them and `fit` rebuilds them from this
table; an API Gateway policy covers every stage of one API, so it is built by API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from slpc.compiler.model import Asset, Model
from slpc.diagnostics import Diagnostic
from slpc.policy.document import PolicyDocument

from .bucket import bucket_policy
from .repository import repository_policy


@dataclass(frozen=True)
class AssetPolicy:
    kind: str  # the artifact kind (slpc.policy.kinds)
    folder: str  # the artifact is `<folder>/<asset name>.json`
    build: Callable[[Model, Asset], tuple[PolicyDocument, list[Diagnostic]]]


ASSET_POLICIES: dict[str, AssetPolicy] = {  # by AssetKind.name
    "bucket": AssetPolicy("s3-bucket-policy", "s3", bucket_policy),
    "repository": AssetPolicy("ecr-repository-policy", "ecr", repository_policy),
}
BY_ARTIFACT_KIND: dict[str, AssetPolicy] = {p.kind: p for p in ASSET_POLICIES.values()}
