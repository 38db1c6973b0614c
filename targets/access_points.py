"""S3 access points for buckets that many grantees share (`access_points`, docs/policies.md).

A bucket policy that names every grantee's prefixes, networks and expiry grows with
the grantees and stops fitting at about ten. Reached through access points, the
bucket policy keeps what protects the bucket as a whole (transport, networks,
encryption, perimeter changes, governance bypass, signatures, lock periods) and
delegates data requests to the spec's access points only, denying every other way
in (direct requests and access points the spec does not declare). Each grantee gets
one access point whose own policy is that grantee's part of the exact bucket policy:
nobody else, no other action, nothing outside its prefixes, networks or expiry.
"""

from __future__ import annotations

import os

from slpc.compiler import verbs as V
from slpc.compiler.model import AccessPoint, Asset, Model
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement

from . import perimeter
from .denies import Entitlement, deny_outside_grants
from .grants import ap_resources, prefix_patterns, unique_sids

KIND = "s3-access-point-policy"
ARN_KEY = "s3:DataAccessPointArn"
DATA_ACTIONS = V.S3_OBJECT_DATA_ACTIONS + V.S3_BUCKET_DATA_ACTIONS
ANY = Principal.any()


def _both(ap: AccessPoint) -> tuple[str, str]:
    return ap.arn, f"{ap.arn}/object/*"


def delegation(model: Model, asset: Asset, actions: list[str], by_pattern: bool = False) -> list[Statement]:
    """The bucket policy's statements for a bucket reached through access points: data
    requests only through the spec's access points, and those allowed what their
    grantees may do (each access point's policy narrows it to its own grantee).

    `by_pattern`: the access points by the name pattern the SCP guards instead of each
    ARN, for buckets with more access points than the bucket policy can list."""
    arns = tuple(sorted(ap.arn for ap in model.access_points(asset.name).values()))
    named = (access_point_pattern(model, asset),) if by_pattern and arns else arns
    outside, inside = ("StringNotLike", "StringLike") if by_pattern else ("StringNotEquals", "StringEquals")
    both = (asset.arn, f"{asset.arn}/*")
    through = (Condition(outside, ARN_KEY, named),) if arns else ()
    out = [Statement("Deny", actions=tuple(sorted(DATA_ACTIONS)), resources=both, principal=ANY,
                     conditions=through, sid="DenyDataOutsideAccessPoints")]
    objects = sorted(a for a in actions if a in V.S3_OBJECT_DATA_ACTIONS or a == V.S3_BYPASS_GOVERNANCE)
    itself = sorted(a for a in actions if a not in objects)
    for acts, resource, name in ((objects, f"{asset.arn}/*", "DelegateObjectsToAccessPoints"),
                                 (itself, asset.arn, "DelegateBucketToAccessPoints")):
        if arns and acts:
            out.append(Statement("Allow", actions=tuple(acts), resources=(resource,), principal=ANY,
                                 conditions=(Condition(inside, ARN_KEY, named),), sid=name))
    return out


def trusted_by_pattern(doc: PolicyDocument) -> bool:
    """Whether a bucket policy built by `delegation` names its access points by pattern."""
    return any(s.sid == "DenyDataOutsideAccessPoints" and any(c.operator == "StringNotLike" for c in s.conditions)
               for s in doc.statements)


def _target(ap: AccessPoint):
    """`deny_outside_grants`'s target in access-point ARNs (see targets/bucket.py)."""
    def target(kind: str, mode: str, prefixes: tuple[str, ...]):
        if kind == V.OBJECT:
            objects = tuple(sorted({r for p in prefixes for r in ap_resources(ap, V.OBJECT, p)}))
            if mode == "limit":
                return (), (), objects
            return (objects if prefixes else (f"{ap.arn}/object/*",)), (), ()
        if kind == V.BUCKET_PREFIX and prefixes:
            op = "StringNotLike" if mode == "limit" else "StringLike"
            return (ap.arn,), (Condition(op, "s3:prefix", prefix_patterns(prefixes)),), ()
        return (ap.arn,), (), ()
    return target


def access_point_policy(model: Model, asset: Asset, ap: AccessPoint, ents: list[Entitlement],
                        kind_of, allows: list[Statement]) -> PolicyDocument:
    """One grantee's access point: only it, only its actions, only within its grants;
    `allows`: its Allows when it is another account's (the access point must allow it too)."""
    mine = [e for e in ents if e.principal == ap.principal]
    owner = model.principals[ap.principal]
    actions = sorted({e.action for e in mine} | ({V.S3_BYPASS_GOVERNANCE} if ap.principal in asset.breakglass else set()))
    both = _both(ap)
    stmts = [
        Statement("Deny", actions=("s3:*",), resources=both, principal=ANY,
                  conditions=perimeter.principal_is_not([owner.arn]), sid="DenyOtherPrincipals"),
        Statement("Deny", not_actions=tuple(actions), resources=both, principal=ANY, sid="DenyOtherActions"),
    ]
    stmts += deny_outside_grants(model, mine, ("s3",), kind_of, _target(ap))
    return PolicyDocument(unique_sids(stmts + allows))


def access_point_pattern(model: Model, bucket: Asset) -> str:
    """The ARNs of a bucket's access points and their objects, and only of access points
    whose names begin as theirs: the longest prefix their names share, then `*`."""
    names = sorted(ap.name for ap in model.access_points(bucket.name).values())
    arn = next(iter(model.access_points(bucket.name).values())).arn
    return arn.rsplit("/", 1)[0] + "/" + os.path.commonprefix(names) + "*"
