"""S3 bucket policies: the perimeter around one model bucket (and, for a bucket
reached through access points, its access points' policies).

Statement families (docs/policies.md): transport, network perimeter, ungranted
data actions, per-grantee limits, upload encryption, perimeter changes, governance
bypass, and Allows for grantees in other accounts. Through access points, the
ungranted and per-grantee families and the Allows move to the access points.
"""

from __future__ import annotations

from slpc.compiler import verbs as V
from slpc.compiler.model import Asset, Model
from slpc.diagnostics import Diagnostic, warning

from . import perimeter
from .denies import Entitlement, deny_outside_grants, deny_ungranted
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from .access_points import KIND as ACCESS_POINT_POLICY, access_point_policy, delegation
from .artifact import Artifact
from .optimize import optimize
from slpc.policy.limits import RULES, measure
from .grants import S3_SCOPES, allow_statements, object_resources, prefix_patterns, unique_sids, uses

ANY = Principal.any()
KIND = "s3-bucket-policy"
SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_C = "s3:x-amz-server-side-encryption-customer-algorithm"


def _kind(action: str) -> str:
    if action in V.S3_OBJECT_DATA_ACTIONS or action == V.S3_BYPASS_GOVERNANCE:
        return V.OBJECT
    return V.BUCKET_PREFIX if action == "s3:ListBucket" else V.BUCKET


def entitlements(model: Model, asset: Asset) -> list[Entitlement]:
    """Who may use which S3 action on this bucket, where and until when (grants and breakglass)."""
    grants = model.grants_on(asset.name)
    out = [Entitlement(u.grant.principal, a, u.grant.prefix if u.scope != V.BUCKET else "",
                       u.grant.networks, u.grant.until)
           for u in uses(model, grants) if u.scope in S3_SCOPES for a in u.actions]
    union = tuple(sorted({n for g in grants for n in g.networks}))
    out += [Entitlement(p, "s3:DeleteObjectVersion", "", union, None) for p in asset.breakglass]
    return out


def _target(asset: Asset):
    def target(kind: str, mode: str, prefixes: tuple[str, ...]):
        if kind == V.OBJECT:
            if mode == "limit":
                return (), (), object_resources(asset, prefixes)
            return (object_resources(asset, prefixes) if prefixes else (f"{asset.arn}/*",)), (), ()
        if kind == V.BUCKET_PREFIX and prefixes:
            op = "StringNotLike" if mode == "limit" else "StringLike"
            return (asset.arn,), (Condition(op, "s3:prefix", prefix_patterns(prefixes)),), ()
        return (asset.arn,), (), ()
    return target


def bucket_policy(model: Model, asset: Asset) -> tuple[PolicyDocument, list[Diagnostic]]:
    """The bucket's policy; through access points, each named, or by the SCP-guarded
    name pattern when naming each does not fit (W355)."""
    doc, diags = _bucket_policy(model, asset)
    if asset.access_points != "always":
        return doc, diags
    doc = optimize(doc)
    listed, limit = measure(KIND, doc), RULES[KIND].limit
    if listed <= limit:
        return doc, diags
    doc, diags = _bucket_policy(model, asset, by_pattern=True)
    return doc, diags + [warning("W355", f"bucket `{asset.name}` trusts its access points by name pattern", None,
                                 f"naming each of its {len(model.access_points(asset.name)):,} access points takes "
                                 f"{listed:,} bytes, over S3's limit of {limit:,}: {PATTERN_TRUST}")]


# What the manifest, summary and report add for a bucket whose policy trusts access points by pattern.
PATTERN_TRUST = ("it trusts every access point of its account whose name matches its access points' "
                 "common prefix; the SCP's DenyAccessPointChanges keeps anyone but its admins from making one")


def _bucket_policy(model: Model, asset: Asset, by_pattern: bool = False) -> tuple[PolicyDocument, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    both = (asset.arn, f"{asset.arn}/*")
    grants = model.grants_on(asset.name)
    union = frozenset(n for g in grants for n in g.networks)
    key_arn = model.keys[asset.key].arn
    P = model.principals
    if not grants:
        diags.append(warning("W331", f"bucket `{asset.name}` has no grants: its policy denies every request",
                             None, "only AWS services and the account root's policy override can reach it"))

    def deny(name, actions, resources, *conds, principal=ANY) -> Statement:
        return Statement("Deny", actions=tuple(actions), resources=resources, principal=principal,
                         conditions=tuple(sorted(conds, key=lambda c: (c.operator, c.key))), sid=name)

    stmts = [
        deny("DenyInsecureTransport", ["s3:*"], both, Condition("Bool", perimeter.SECURE_TRANSPORT, ("false",))),
        deny("DenyOutdatedTls", ["s3:*"], both, Condition("NumericLessThan", "s3:TlsVersion", ("1.2",))),
        deny("DenyOutsideNetworks", ["s3:*"], both,
             *perimeter.outside(model, sorted(union), ("s3",)), *perimeter.NOT_AWS_SERVICE),
    ]
    ents = entitlements(model, asset)
    if asset.access_points == "always":
        bypass = [V.S3_BYPASS_GOVERNANCE] if asset.breakglass else []
        stmts += delegation(model, asset, sorted({e.action for e in ents}) + bypass, by_pattern)
    else:
        universe = V.S3_OBJECT_DATA_ACTIONS + V.S3_BUCKET_DATA_ACTIONS
        stmts += deny_ungranted(model, universe, ents,
                                lambda a: (f"{asset.arn}/*",) if _kind(a) == V.OBJECT else (asset.arn,),
                                lambda a: "Object" if _kind(a) == V.OBJECT else "Bucket")
        stmts += deny_outside_grants(model, ents, ("s3",), _kind, _target(asset), guarded=universe)
    objects = (f"{asset.arn}/*",)
    stmts += [
        # Headers present but wrong. Requests without them (UploadPart never carries them)
        # get the bucket's default encryption: SSE-KMS with this key.
        deny("DenyNonKmsEncryption", ["s3:PutObject"], objects,
             Condition("Null", SSE, ("false",)), Condition("StringNotEquals", SSE, ("aws:kms",))),
        deny("DenyOtherKmsKeys", ["s3:PutObject"], objects,
             Condition("Null", SSE_KEY, ("false",)), Condition("StringNotEquals", SSE_KEY, (key_arn,))),
        # aws:kms without a key id would fall back to the AWS managed key aws/s3.
        deny("DenyKmsWithoutKeyId", ["s3:PutObject"], objects,
             Condition("StringEquals", SSE, ("aws:kms",)), Condition("Null", SSE_KEY, ("true",))),
        deny("DenyCustomerProvidedKeys", ["s3:PutObject"], objects, Condition("Null", SSE_C, ("false",))),
        deny("DenyPerimeterChanges", sorted(V.S3_PERIMETER_ACTIONS), both,
             *perimeter.principal_is_not(P[a].arn for a in asset.admins)),
        deny("DenyGovernanceBypass", [V.S3_BYPASS_GOVERNANCE], objects,
             *perimeter.principal_is_not(P[b].arn for b in asset.breakglass)),
        # presigned URLs (and any request) with a signature older than the spec allows
        deny("DenyOldSignatures", ["s3:*"], both,
             Condition("NumericGreaterThan", "s3:signatureAge", (str(asset.signature_age_ms),))),
    ]
    if asset.object_lock:
        # nobody extends a lock past the declared period by mistake
        stmts.append(deny("DenyRetentionBeyondLockPeriod", ["s3:PutObject", "s3:PutObjectRetention"], objects,
                          Condition("NumericGreaterThan", "s3:object-lock-remaining-retention-days",
                                    (str(asset.object_lock[1]),))))
    if asset.access_points != "always":
        stmts += cross_account_allows(model, asset)
    return PolicyDocument(unique_sids(stmts)), diags


def cross_account_allows(model: Model, asset: Asset, only: str | None = None) -> list[Statement]:
    """Principals of other accounts (or just `only`) need the resource policy to allow them
    too; on a bucket reached through access points, these name the grantee's access point."""
    out: list[Statement] = []
    grants = [g for g in model.grants_on(asset.name)
              if model.principals[g.principal].account != asset.account and only in (None, g.principal)]
    for use in uses(model, grants):
        if use.scope in S3_SCOPES:
            p = model.principals[use.grant.principal]
            out += allow_statements(model, use, principal=Principal.aws(p.arn), sid_prefix=p.name)
    return out


def access_point_artifacts(model: Model) -> tuple[list[Artifact], list[Diagnostic]]:
    """The policy of each access point of the buckets reached through them."""
    arts = []
    for asset in model.assets_of("bucket"):
        aps = model.access_points(asset.name)
        ents = entitlements(model, asset) if aps else []
        for who, ap in sorted(aps.items()):
            arts.append(Artifact(ACCESS_POINT_POLICY, ap.arn, asset.account, f"s3/access-points/{ap.name}.json",
                                 ap.name, access_point_document(model, asset, who, ents), within=asset.arn))
    return arts, []


def access_point_document(model: Model, asset: Asset, who: str,
                          ents: list[Entitlement] | None = None) -> PolicyDocument | None:
    """The policy of `who`'s access point on the bucket (None: it has none)."""
    ap = model.access_points(asset.name).get(who)
    if ap is None:
        return None
    ents = entitlements(model, asset) if ents is None else ents
    return access_point_policy(model, asset, ap, ents, _kind, cross_account_allows(model, asset, who))
