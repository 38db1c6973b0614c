"""What each found role can do today on each found asset, decided by slpc's evaluator.

The deployed documents of an `Inventory` (the roles' inline and managed policies,
bucket, repository and key policies, the VPC endpoints' policies) become a
`verify.deployment.Deployment`, the same routing `slpc explain` uses, and each
(role, verb, asset, prefix) is asked for every action of the verb's table in
`compiler.verbs`, through each found network with the asset's endpoints and from no
network in particular; the KMS side of a bucket verb is asked of the bucket's key as S3
asks it for the caller (no network of the caller's, kms:ViaService). A verb
held in part is reported with the actions it lacks (a grant of it would add them),
unless verbs that add fewer actions on the same asset and prefix already cover what it holds
(`pull` beside a partial `push`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from slpc.compiler.values import DNS_SUFFIX
from slpc.compiler.verbs import (ACCOUNT, BUCKET_PREFIX, ECR_ADMIN_ACTIONS, KEY_VIA_S3, KMS_ADMIN_ACTIONS, OBJECT,
                                 S3_ADMIN_ACTIONS, VERBS)
from slpc.policy.document import PolicyFormatError, Statement, PolicyDocument, from_json
from slpc.policy.matching import wildcard_match

from ..deployment import ENDPOINT as ENDPOINT_POLICY, IDENTITY, Deployment, Policy
from . import inventory as I

PROBE = "slpc-import-probe"  # an object name under a prefix: no real key is needed to ask the evaluator
ALLOW_ALL = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
# the VPC endpoints a request on each kind of asset comes through (docs/language.md, verb table)
ASSET_SERVICES = {"bucket": ("s3",), "repository": ("ecr.dkr", "ecr.api"), "endpoint": ("sagemaker.runtime",)}


@dataclass(frozen=True)
class Access:
    """A verb a role holds today on an asset (under `prefix`, for buckets)."""

    role: str
    verb: str
    kind: str  # bucket | repository | endpoint
    asset: str  # bucket name, repository ARN or endpoint ARN
    prefix: str = ""
    networks: tuple[str, ...] = ()  # VPC ids whose endpoints let it through
    anywhere: bool = False  # allowed without any network condition
    whole: bool = False  # a bucket verb's actions held here are held on the whole bucket too
    lacks: tuple[str, ...] = ()  # the verb's actions it does not hold today (a grant would add them)
    asked: tuple[str, ...] = ()  # the verb's actions asked (the KMS side only where the key is known)

    @property
    def holds(self) -> tuple[str, ...]:
        return tuple(a for a in self.asked if a not in self.lacks)


@dataclass(frozen=True)
class Exposure:
    """Someone outside the found roles whom a resource policy lets in today."""

    kind: str
    asset: str
    who: str  # "anyone" or an account id
    actions: tuple[str, ...]
    requests: tuple[dict, ...] = ()  # one request the deployed policies allow, for each action


def deployment(inv: I.Inventory) -> tuple[Deployment, list[I.Problem]]:
    """The deployed documents as the evaluator's Deployment; a malformed one is a problem."""
    policies, problems = [], []

    def add(kind: str, target: str, account: str, label: str, raw) -> None:
        try:
            policies.append(Policy(kind, target, account, label, from_json(raw)))
        except PolicyFormatError as exc:
            problems.append(I.Problem(target, f"cannot read {label}: {exc}"))
    for r in inv.roles:
        for label, doc in r.policies:
            add(IDENTITY, r.arn, r.arn.split(":")[4], f"{r.arn} {label}", doc)
    for b in inv.buckets:
        if b.policy:
            add("s3-bucket-policy", bucket_arn(inv, b.name), inv.account, f"bucket policy of {b.name}", b.policy)
    for repo in inv.repositories:
        if repo.policy:
            add("ecr-repository-policy", repo.arn, inv.account, f"repository policy of {repo.name}", repo.policy)
    for k in inv.keys:
        if k.policy:
            add("kms-key-policy", k.arn, k.arn.split(":")[4], f"key policy of {k.arn}", k.policy)
    for n in inv.networks:
        for vpce, doc in n.policies:
            add(ENDPOINT_POLICY, vpce, inv.account, f"endpoint policy of {vpce}", doc)
    return Deployment(policies), problems


def bucket_arn(inv: I.Inventory, name: str) -> str:
    return f"arn:{inv.partition}:s3:::{name}"


class Today:
    """Asks the evaluator what the deployed policies allow.

    A shared bucket has a prefix per team and a role is asked under each, so the same
    question comes many times: each answer is kept; `s3:prefix` is left out of the
    requests when no deployed document names it (it cannot change an answer then); and
    a bucket verb is not asked under a prefix where no Allow of the role's policies or
    the bucket policy names one of its actions on a resource there (`_may_allow`)."""

    def __init__(self, inv: I.Inventory):
        self.inv = inv
        self.dep, self.problems = deployment(inv)
        self._answers: dict[tuple, bool] = {}
        documents = [doc for r in inv.roles for _, doc in r.policies] + [b.policy for b in inv.buckets] + [
            r.policy for r in inv.repositories] + [k.policy for k in inv.keys] + [
            doc for n in inv.networks for _, doc in n.policies]
        self.prefix_named = "s3:prefix" in json.dumps(documents).lower()
        self._allows = {r.arn: _allow_statements(doc for _, doc in r.policies) for r in inv.roles}
        self._allows.update({b.name: _allow_statements([b.policy]) for b in inv.buckets})

    def allowed(self, principal, action, resource, context, extra=()) -> bool:
        key = (principal, action, resource, tuple(sorted(context.items())), extra)
        if key not in self._answers:
            self._answers[key] = self.dep.decide(principal, action, resource, context, extra_identity=extra,
                                                 resource_account=self.inv.account).allowed
        return self._answers[key]

    def _may_allow(self, role: str, bucket: str, verb: str, prefix: str) -> bool:
        """Whether some Allow of the role's policies or the bucket policy could match an
        object action of the verb under the prefix (its bucket actions, for `list`),
        conditions and principals aside (NotAction and NotResource match anything): without
        one the evaluator cannot allow it. `read` held for ListBucket alone is never drafted
        (`list` covers it with fewer actions added: `_covered`), so its object actions decide."""
        asked = [(scope, a, r, c) for scope, a, r, c in self._requests("bucket", bucket, verb, prefix)
                 if scope not in (ACCOUNT, KEY_VIA_S3)]
        requests = [(a, r, c) for _, a, r, c in asked]
        objects = [(a, r, c) for scope, a, r, c in asked if scope == OBJECT]
        statements = self._allows.get(role, []) + self._allows.get(bucket, [])
        return any(_may_match(st, action, resource, context.get("s3:prefix"))
                   for action, resource, context in objects or requests for st in statements)

    def _requests(self, kind: str, asset: str, verb: str, prefix: str):
        """(scope, action, resource, context) of each action of the verb on the asset under the
        prefix. The KMS side of a bucket verb is S3 calling the bucket's key for the caller
        (kms:ViaService; the object's ARN as encryption context, the bucket's with S3 Bucket
        Keys), asked where that key is a customer-managed key whose policy was read; an AWS
        managed key or SSE-S3 has no policy of the account's to ask."""
        arn = bucket_arn(self.inv, asset) if kind == "bucket" else asset
        for action, scope in VERBS[("endpoint" if kind == "endpoint" else kind, verb)].actions:
            if scope == KEY_VIA_S3:
                b = next(x for x in self.inv.buckets if x.name == asset)
                key = self._bucket_key(b)
                if key is not None:
                    yield scope, action, key, {
                        "kms:ViaService": f"s3.{b.region}.{DNS_SUFFIX.get(self.inv.partition, 'amazonaws.com')}",
                        "kms:EncryptionContext:aws:s3:arn": arn if b.bucket_key else f"{arn}/{prefix}{PROBE}"}
            elif scope == OBJECT:
                yield scope, action, f"{arn}/{prefix}{PROBE}", {}
            elif scope == BUCKET_PREFIX:
                yield scope, action, arn, ({"s3:prefix": prefix} if prefix and self.prefix_named else {})
            elif scope == ACCOUNT:
                yield scope, action, "*", {}
            else:
                yield scope, action, arn, {}

    def _bucket_key(self, b: I.Bucket) -> str | None:
        """The bucket's customer-managed key whose policy was read, the one the KMS side is asked of."""
        return next((k.arn for k in self.inv.keys if k.arn == b.key_arn and not k.managed_by_aws
                     and k.policy is not None), None)

    def _networks(self, region: str, services: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
        """(VPC id, the network context of a request through the first service's endpoint)
        for each found network of the region with an endpoint of every one of the services
        (a spec's network reaches a repository only with both ECR endpoints: E403)."""
        out = []
        for n in self.inv.networks:
            ids = {svc: i for svc, i, _ in reversed(n.endpoints)}
            if n.region == region and all(svc in ids for svc in services):
                out.append((n.vpc, {"aws:SourceVpce": ids[services[0]], "aws:SourceVpc": n.vpc}))
        return out

    def holds(self, principal, kind, asset, verb, prefix, context, extra=()) -> tuple[str, ...]:
        """The actions of the verb the principal is allowed in this network context. S3 calls
        KMS itself, on the caller's behalf: that request carries no network of the caller's
        (aws:SourceVpce is absent), only the calling account."""
        def where(scope, ctx):
            if scope != KEY_VIA_S3:
                return {**context, **ctx}
            return {**ctx, "aws:ViaAWSService": "true",
                    **({"kms:CallerAccount": principal.split(":")[4]} if principal else {})}
        return tuple(action for scope, action, resource, ctx in self._requests(kind, asset, verb, prefix)
                     if self.allowed(principal, action, resource, where(scope, ctx), extra))

    def access(self, role: str, kind: str, asset: str, region: str, verb: str, prefix: str) -> Access | None:
        """The verb as the role holds it today under the prefix: from which networks, and
        which of its actions it lacks. Actions anyone may take (a public bucket policy) are
        not the role's; a verb of which it holds only account-level actions
        (ecr:GetAuthorizationToken) or only the KMS side is not held."""
        if kind == "bucket" and not self._may_allow(role, asset, verb, prefix):
            return None
        requests = list(self._requests(kind, asset, verb, prefix))
        every = tuple(a for _, a, _, _ in requests)
        asset_actions = {a for scope, a, _, _ in requests if scope not in (ACCOUNT, KEY_VIA_S3)}
        nets, anywhere, held_everywhere = [], False, None
        for vpc, ctx in self._networks(region, ASSET_SERVICES[kind]) + [(None, {})]:
            held = set(self.holds(role, kind, asset, verb, prefix, ctx)) - set(
                self.holds(None, kind, asset, verb, prefix, ctx))
            if not held & asset_actions:
                continue
            held_everywhere = held if held_everywhere is None else held_everywhere & held
            if vpc is None:
                anywhere = True
            else:
                nets.append(vpc)
        if held_everywhere is None:
            return None
        lacks = tuple(a for a in every if a not in held_everywhere)
        root = self.access(role, kind, asset, region, verb, "") if prefix else None
        whole = root is not None and not set(root.lacks) - set(lacks)  # what it holds here, it holds everywhere
        return Access(role, verb, kind, asset, prefix, tuple(sorted(nets)), anywhere, whole, lacks, every)

    def exposures(self, kind: str, asset: str, policy: dict | None) -> list[Exposure]:
        """Anonymous callers, and each other account the resource policy names, that it lets in."""
        out = []
        for who, principal, extra in [("anyone", None, ())] + [
                (acct, f"arn:{self.inv.partition}:iam::{acct}:role/{PROBE}", (ALLOW_ALL,))
                for acct in sorted(foreign_accounts(policy, self.inv.account))]:
            allowed: dict[str, dict] = {}
            for verb in verbs_of(kind):
                for _, action, resource, ctx in self._requests(kind, asset, verb, ""):
                    if action not in allowed and self.allowed(principal, action, resource, ctx, extra):
                        allowed[action] = {"principal": principal or "*anonymous*", "action": action,
                                           "resource": resource, "context": ctx}
            if allowed:
                out.append(Exposure(kind, asset, who, tuple(sorted(allowed)),
                                    tuple(allowed[a] for a in sorted(allowed))))
        return out


def _allow_statements(documents) -> list[dict]:
    """The Allow statements of raw policy documents."""
    return [st for doc in documents if isinstance(doc, dict) for st in _statements(doc) if st.get("Effect") == "Allow"]


def _may_match(statement: dict, action: str, resource: str, prefix: str | None) -> bool:
    """Whether the statement could apply to the request, its conditions aside but for a
    plain `StringEquals` / `StringLike` on `s3:prefix` (the request's `prefix`, None when
    it names none), which a shared bucket's listing grants turn on."""
    def listed(value) -> list[str]:
        return [value] if isinstance(value, str) else [str(v) for v in value or ()]
    if not ("NotAction" in statement or any(wildcard_match(p, action, ignore_case=True)
                                            for p in listed(statement.get("Action")))):
        return False
    if not ("NotResource" in statement or any(wildcard_match(p, resource) for p in listed(statement.get("Resource")))):
        return False
    condition = statement.get("Condition") if isinstance(statement.get("Condition"), dict) else {}
    for operator, test in (("StringEquals", lambda v: v == prefix),
                           ("StringLike", lambda v: wildcard_match(v, prefix))):
        block = condition.get(operator) if isinstance(condition.get(operator), dict) else {}
        for key, values in block.items():
            if key.lower() == "s3:prefix" and (prefix is None or not any(test(v) for v in listed(values))):
                return False
    return True


def verbs_of(kind: str) -> list[str]:
    return [verb for (k, verb) in VERBS if k == kind]


def foreign_accounts(policy: dict | None, account: str) -> set[str]:
    """The accounts other than `account` named in a resource policy's AWS principals."""
    found: set[str] = set()
    for st in _statements(policy):
        principal = st.get("Principal")
        values: Iterable = ()
        if isinstance(principal, dict):
            aws = principal.get("AWS", ())
            values = [aws] if isinstance(aws, str) else aws
        for v in values:
            acct = v if len(v) == 12 and v.isdigit() else (v.split(":")[4] if v.count(":") >= 5 else "")
            if acct and acct != account:
                found.add(acct)
    return found


def _statements(policy: dict | None) -> list[dict]:
    st = (policy or {}).get("Statement") or []
    return [s for s in ([st] if isinstance(st, dict) else st) if isinstance(s, dict)]


def prefixes_for(inv: I.Inventory, role: str, bucket: I.Bucket) -> tuple[str, ...]:
    """The prefixes to ask about: where the role's own workloads use the bucket, else where
    model data was found in it, else the whole bucket."""
    own = I.narrowest(loc.prefix for loc in inv.locations if loc.bucket == bucket.name and loc.role == role)
    return own or bucket.prefixes or ("",)


def _covered(found: list[Access]) -> list[Access]:
    """The verbs that grant what the role holds on each asset and prefix while adding the
    fewest actions: the verbs held in full, then each partial verb by fewest actions added,
    kept only if it holds an action the kept ones do not (ListBucket alone is `list`, which
    adds GetBucketLocation, not `read`, which would add GetObject); then a partial verb whose
    actions the others kept hold after all is dropped."""
    kept: list[Access] = []
    for a in sorted(found, key=lambda a: (len(a.lacks), -len(a.holds), a.verb)):
        if not a.lacks or not set(a.holds) <= _held(kept, a):
            kept.append(a)
    for a in reversed(list(kept)):
        if a.lacks and set(a.holds) <= _held([b for b in kept if b is not a], a):
            kept.remove(a)
    return [a for a in found if a in kept]


def _held(accesses: list[Access], like: Access) -> set[str]:
    """What the accesses hold on `like`'s role, asset and prefix."""
    return {x for b in accesses if (b.role, b.asset, b.prefix) == (like.role, like.asset, like.prefix)
            for x in b.holds}


def role_principals(policy: dict | None, account: str) -> set[str]:
    """The role ARNs of `account` that a resource policy names."""
    found: set[str] = set()
    for st in _statements(policy):
        principal = st.get("Principal")
        aws = principal.get("AWS", ()) if isinstance(principal, dict) else ()
        for v in [aws] if isinstance(aws, str) else aws:
            if isinstance(v, str) and v.count(":") >= 5 and v.split(":")[4] == account and \
                    v.split(":", 5)[5].startswith("role/"):
                found.add(v)
    return found


def asset_admins(inv: I.Inventory, today: "Today") -> dict[str, list[str]]:
    """Each key ARN, bucket name and repository ARN -> the roles of the account (found, or
    named by its resource policy) allowed every administration action of its kind on it
    today (the actions a spec's `admins` get: compiler.verbs)."""
    found = {r.arn for r in inv.roles if r.read and r.arn.split(":")[4] == inv.account}
    assets = ([(k.arn, k.arn, k.policy, KMS_ADMIN_ACTIONS) for k in inv.keys]
              + [(b.name, bucket_arn(inv, b.name), b.policy, S3_ADMIN_ACTIONS) for b in inv.buckets]
              + [(r.arn, r.arn, r.policy, ECR_ADMIN_ACTIONS) for r in inv.repositories])
    return {asset: [r for r in sorted(found | role_principals(policy, inv.account))
                    if all(today.allowed(r, a, resource, {}) for a in actions)]
            for asset, resource, policy, actions in assets}


def current_access(inv: I.Inventory) -> tuple[list[Access], list[Exposure], dict[str, list[str]], list[I.Problem]]:
    """Every verb each found role holds on each found asset today, the exposures, and
    each key's, bucket's and repository's admins."""
    today = Today(inv)
    out: list[Access] = []
    for role in (r for r in inv.roles if r.read):
        for b in inv.buckets:
            for prefix in prefixes_for(inv, role.arn, b):
                out += _covered([a for verb in verbs_of("bucket")
                                 if (a := today.access(role.arn, "bucket", b.name, b.region, verb, prefix))])
        for repo in inv.repositories:
            out += _covered([a for verb in verbs_of("repository")
                             if (a := today.access(role.arn, "repository", repo.arn, repo.region, verb, ""))])
        for e in inv.endpoints:
            a = today.access(role.arn, "endpoint", e.arn, e.region, "invoke", "")
            if a:
                out.append(a)
    exposures = [x for b in inv.buckets for x in today.exposures("bucket", b.name, b.policy)]
    exposures += [x for r in inv.repositories for x in today.exposures("repository", r.arn, r.policy)]
    return out, exposures, asset_admins(inv, today), today.problems
