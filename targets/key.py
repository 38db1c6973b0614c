"""KMS key policies: admins manage, grantees decrypt only through S3, CloudWatch Logs
encrypts the flow-log group (its key only, targets/flow_logs.py), nobody else.

The policy does not delegate to IAM (no account-root statement), so no IAM
policy, not even `kms:*`, can reach the key; only the principals named here can.
When naming each grantee does not fit, the key names the grantees' accounts
instead (W352): S3 calls KMS for a caller only on a request S3 has authorized, and
the bucket policies authorize exactly the spec. A key with `key_policy exact` never
takes that form: a policy naming each grantee that does not fit is E501.
"""

from __future__ import annotations

from dataclasses import replace

from slpc.compiler import verbs as V
from slpc.compiler.model import Key, Model
from slpc.diagnostics import Diagnostic, warning

from . import perimeter
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from slpc.policy.limits import RULES, measure
from .artifact import Artifact
from .flow_logs import logs_exemption, logs_statements
from .grants import S3_KEY_CONTEXT, Use, allow_statements, key_via_s3, unique_sids, uses
from .optimize import optimize

KIND = "kms-key-policy"


def _key_uses(model: Model, key: Key) -> list[Use]:
    """The key actions of the grants on the key's buckets."""
    grants = model.grants_on(*sorted(a.name for a in model.assets.values() if a.key == key.name))
    return [u for u in uses(model, grants) if u.scope == V.KEY_VIA_S3]


def _accounts(model: Model, key_uses: list[Use]) -> tuple[str, ...]:
    return tuple(sorted({model.principals[u.grant.principal].account for u in key_uses}))


def key_policy(model: Model, key: Key, account_wide: bool = False) -> PolicyDocument:
    P = model.principals
    stmts = [Statement("Allow", actions=tuple(sorted(V.KMS_ADMIN_ACTIONS)), resources=("*",),
                       principal=Principal.aws(*(P[a].arn for a in key.admins)), sid="KeyAdministration")]
    key_uses = _key_uses(model, key)
    stmts += logs_statements(model, key)
    exempt = logs_exemption(model, key)
    if account_wide:
        stmts += [replace(st, conditions=st.conditions + exempt) if st.effect == "Deny" else st
                  for st in _account_wide(model, key_uses)]
    else:
        users = set()
        for use in key_uses:
            p = P[use.grant.principal]
            users.add(p.arn)
            caller = Condition("StringEquals", "kms:CallerAccount", (p.account,))
            stmts += allow_statements(model, use, principal=Principal.aws(p.arn), resources=("*",),
                                      extra=(caller,), sid_prefix=p.name)
        stmts.append(Statement("Deny", actions=tuple(sorted(V.KMS_CRYPTO_ACTIONS)), resources=("*",),
                               principal=Principal.any(), conditions=perimeter.principal_is_not(users) + exempt,
                               sid="DenyCryptoToOthers"))
    stmts.append(Statement("Deny", actions=("kms:PutKeyPolicy",), resources=("*",), principal=Principal.any(),
                           conditions=(Condition("Bool", "kms:BypassPolicyLockoutSafetyCheck", ("true",)),),
                           sid="DenyLockoutSafetyBypass"))
    return PolicyDocument(unique_sids(stmts))


def _account_wide(model: Model, key_uses: list[Use]) -> list[Statement]:
    """Key use through S3, for the key's granted buckets, by any principal of the grantees'
    accounts; the denies keep every other use out whatever else allows it (a KMS grant). The
    buckets are listed once, in the deny: an Allow naming them too would decide nothing more."""
    if not key_uses:
        return [Statement("Deny", actions=tuple(sorted(V.KMS_CRYPTO_ACTIONS)), resources=("*",),
                          principal=Principal.any(), sid="DenyCryptoToOthers")]
    assets = sorted({u.grant.asset for u in key_uses})
    via = tuple(sorted({c for a in assets for c in key_via_s3(model, model.assets[a])[0].values}))
    contexts = tuple(sorted({v for a in assets for v in (model.assets[a].arn, f"{model.assets[a].arn}/*")}))
    accounts = _accounts(model, key_uses)
    crypto = tuple(sorted(V.KMS_CRYPTO_ACTIONS))
    return [
        Statement("Allow", actions=tuple(sorted({a for u in key_uses for a in u.actions})), resources=("*",),
                  principal=Principal.any(), sid="AllowS3ForTheGranteesAccounts",
                  conditions=(Condition("StringEquals", "kms:CallerAccount", accounts),
                              Condition("StringEquals", "kms:ViaService", via))),
        Statement("Deny", actions=crypto, resources=("*",), principal=Principal.any(), sid="DenyCryptoNotThroughS3",
                  conditions=(Condition("StringNotEquals", "kms:ViaService", via),)),
        Statement("Deny", actions=crypto, resources=("*",), principal=Principal.any(),
                  sid="DenyCryptoForOtherBuckets", conditions=(Condition("StringNotLike", S3_KEY_CONTEXT, contexts),)),
    ]


def key_artifacts(model: Model) -> tuple[list[Artifact], list[Diagnostic]]:
    """One policy per key: each grantee named, or its account when that does not fit and
    the key's `key_policy` allows it (held exact, an oversize policy is E501 later)."""
    arts, diags = [], []
    for k in model.keys.values():
        doc, coarser = optimize(key_policy(model, k)), None
        exact = measure(KIND, doc)
        if exact > RULES[KIND].limit and k.key_policy == "auto":
            doc = key_policy(model, k, account_wide=True)
            accounts = _accounts(model, _key_uses(model, k))
            coarser = (f"lets any principal of account{'s' * (len(accounts) > 1)} {', '.join(accounts)} use the "
                       f"key through S3 for the key's granted buckets; S3 asks only for requests the bucket "
                       f"policies authorize, and they decide who")
            diags.append(warning("W352", f"the key policy for `{k.name}` names accounts, not principals", None,
                                 f"naming each of its grantees takes {exact:,} bytes, over AWS's limit of "
                                 f"{RULES[KIND].limit:,}: it {coarser}"))
        arts.append(Artifact(KIND, k.arn, k.account, f"kms/{k.name}.json", k.name, doc, coarser=coarser))
    return arts, diags
