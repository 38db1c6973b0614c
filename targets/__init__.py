"""slpc.targets: checked Model -> policy documents and the manifest.

Entry point: `build(model)`. Every document comes from the shared model in
`document.py`; every artifact is size-checked by `limits.py` before it is returned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from slpc.compiler.model import Model
from slpc.dsl.diagnostics import Diagnostic

from .api import api_policy, policy_target
from .audit import audit_artifacts
from .bucket import bucket_policy
from .bucket_settings import bucket_setting_artifacts
from .document import PolicyDocument, dumps
from .endpoints import endpoint_artifacts
from .guardrails import guardrail_artifacts
from .identity import identity_policy
from .key import key_policy
from .limits import check_size
from .optimize import optimize
from .repository import repository_policy


@dataclass(frozen=True)
class Artifact:
    """One output file: a policy document, or a settings document (a dict shaped
    like the AWS API request that applies it)."""

    kind: str
    target: str  # the ARN (or id) the document attaches to
    account: str
    path: str  # relative to the output directory
    name: str  # the declared slpc name
    document: PolicyDocument | None = None
    settings: dict | None = None

    @property
    def text(self) -> str:
        if self.document is not None:
            return dumps(self.document)
        return json.dumps(self.settings, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class BuildResult:
    artifacts: tuple[Artifact, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def build(model: Model) -> BuildResult:
    """All artifacts of a deployment, sorted by path."""
    arts: list[Artifact] = []
    diags: list[Diagnostic] = []
    for p in model.principals.values():
        doc = identity_policy(model, p)
        if doc is not None:
            arts.append(Artifact("iam-identity-policy", p.arn, p.account, f"iam/{p.account}/{p.name}.json", p.name, doc))
    for a in model.assets.values():
        if a.kind == "bucket":
            doc, more = bucket_policy(model, a)
            arts.append(Artifact("s3-bucket-policy", a.arn, a.account, f"s3/{a.name}.json", a.name, doc))
            diags += more
        elif a.kind == "repository":
            doc, more = repository_policy(model, a)
            arts.append(Artifact("ecr-repository-policy", a.arn, a.account, f"ecr/{a.name}.json", a.name, doc))
            diags += more
    apis: dict[str, list] = {}
    for a in model.assets_of("api"):
        apis.setdefault(a.resource_name, []).append(a)
    for api_id, stages in sorted(apis.items()):
        first = stages[0]
        arts.append(Artifact("apigateway-resource-policy", policy_target(model, first), first.account,
                             f"apigateway/{api_id}.json", api_id, api_policy(model, stages)))
    for k in model.keys.values():
        arts.append(Artifact("kms-key-policy", k.arn, k.account, f"kms/{k.name}.json", k.name, key_policy(model, k)))
    for family in (bucket_setting_artifacts, endpoint_artifacts, audit_artifacts, guardrail_artifacts):
        more_arts, more_diags = family(model)
        arts += more_arts
        diags += more_diags
    # the one place every policy is optimized, before it is measured
    arts = [replace(a, document=optimize(a.document)) if a.document is not None else a for a in arts]
    for art in arts:
        if art.document is None:
            continue
        problem = check_size(art.kind, art.document, f"`{art.name}`")
        if problem:
            diags.append(problem)
    return BuildResult(tuple(sorted(arts, key=lambda a: a.path)), tuple(diags))
