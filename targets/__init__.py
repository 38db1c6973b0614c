"""slpc.targets: checked Model -> policy documents and the manifest.

Entry point: `build(model)`. Every document comes from the shared model in
`document.py`; every artifact is size-checked by `limits.py` before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from slpc.compiler.model import Model
from slpc.diagnostics import Diagnostic

from .api import api_policy, policy_target
from .artifact import Artifact
from .asset_policies import ASSET_POLICIES
from .detection import audit_artifacts
from .bucket import access_point_artifacts
from .bucket_settings import bucket_setting_artifacts
from .endpoints import endpoint_artifacts
from .guardrails import guardrail_artifacts
from .identity import identity_policy
from .key import key_artifacts
from .security_groups import security_group_artifacts
from .flow_logs import flow_log_artifacts
from .trust import trust_artifacts
from .layout import coarser, resolve
from .fit import fit_identity, oversize
from slpc.policy.limits import RULES
from .optimize import optimize


@dataclass(frozen=True)
class BuildResult:
    artifacts: tuple[Artifact, ...]
    diagnostics: tuple[Diagnostic, ...]
    model: Model  # as built: every bucket's `access_points` resolved (layout.resolve)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def build(model: Model) -> BuildResult:
    """All artifacts of a deployment, sorted by path."""
    model, layout_diags = resolve(model)
    arts: list[Artifact] = []
    diags: list[Diagnostic] = list(layout_diags)
    for p in model.principals.values():
        doc = identity_policy(model, p)
        if doc is not None:
            arts.append(Artifact("iam-identity-policy", p.arn, p.account, f"iam/{p.account}/{p.name}.json", p.name, doc))
    for a in model.assets.values():
        own = ASSET_POLICIES.get(a.kind)
        if own is not None:
            doc, more = own.build(model, a)
            arts.append(Artifact(own.kind, a.arn, a.account, f"{own.folder}/{a.name}.json", a.name, doc,
                                 coarser=coarser(a, doc)))
            diags += more
    apis: dict[str, list] = {}
    for a in model.assets_of("api"):
        apis.setdefault(a.resource_name, []).append(a)
    for api_id, stages in sorted(apis.items()):
        first = stages[0]
        arts.append(Artifact("apigateway-resource-policy", policy_target(model, first), first.account,
                             f"apigateway/{api_id}.json", api_id, api_policy(model, stages)))
    for family in (access_point_artifacts, key_artifacts, trust_artifacts, bucket_setting_artifacts, endpoint_artifacts, audit_artifacts, guardrail_artifacts,
                   security_group_artifacts, flow_log_artifacts):
        more_arts, more_diags = family(model)
        arts += more_arts
        diags += more_diags
    # the one place every policy is optimized, then fitted to its limit
    fitted: list[Artifact] = []
    for art in arts:
        if art.document is None:
            fitted.append(art)
            continue
        art = replace(art, document=optimize(art.document))
        more_arts, more_diags = fit_identity(model, art) if art.kind == "iam-identity-policy" else ([art], [])
        fitted += more_arts
        diags += more_diags
        diags += [oversize(model, a) for a in more_arts if a.size > RULES[a.kind].limit]
    return BuildResult(tuple(sorted(fitted, key=lambda a: a.path)), tuple(diags), model)
