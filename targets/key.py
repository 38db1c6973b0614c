"""KMS key policies: admins manage, grantees decrypt only through S3, nobody else.

The policy does not delegate to IAM (no account-root statement), so no IAM
policy, not even `kms:*`, can reach the key; only the principals named here can.
"""

from __future__ import annotations

from slpc.compiler import verbs as V
from slpc.compiler.model import Key, Model

from . import perimeter
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from .grants import allow_statements, unique_sids, uses


def key_policy(model: Model, key: Key) -> PolicyDocument:
    P = model.principals
    buckets = {a.name for a in model.assets.values() if a.key == key.name}
    grants = model.grants_on(*sorted(buckets))
    stmts = [Statement("Allow", actions=tuple(sorted(V.KMS_ADMIN_ACTIONS)), resources=("*",),
                       principal=Principal.aws(*(P[a].arn for a in key.admins)), sid="KeyAdministration")]
    users = set()
    for use in uses(model, grants):
        if use.scope == V.KEY_VIA_S3:
            p = P[use.grant.principal]
            users.add(p.arn)
            caller = Condition("StringEquals", "kms:CallerAccount", (p.account,))
            stmts += allow_statements(model, use, principal=Principal.aws(p.arn), resources=("*",),
                                      extra=(caller,), sid_prefix=p.name)
    stmts += [
        Statement("Deny", actions=tuple(sorted(V.KMS_CRYPTO_ACTIONS)), resources=("*",), principal=Principal.any(),
                  conditions=perimeter.principal_is_not(users), sid="DenyCryptoToOthers"),
        Statement("Deny", actions=("kms:PutKeyPolicy",), resources=("*",), principal=Principal.any(),
                  conditions=(Condition("Bool", "kms:BypassPolicyLockoutSafetyCheck", ("true",)),),
                  sid="DenyLockoutSafetyBypass"),
    ]
    return PolicyDocument(unique_sids(stmts))
