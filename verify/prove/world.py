"""What is proved about: the policies (compiled, or a directory in manifest layout),
routed to requests as AWS routes them, and the request universe.

The universe is the model's assets: each bucket's objects and the bucket itself,
each key, repository, SageMaker endpoint and API stage, with the actions slpc
governs on them (data actions; perimeter, governance-bypass and key-administration
actions). Callers are the spec's roles, one symbolic outsider (any other IAM
role or user, with any path, in any account, holding `*:*` in IAM) and, where a
resource policy could let them in, an anonymous caller and any AWS service principal.
Beside the assets, the roles whose trust the spec declares (`RoleTarget`): obtaining
their credentials from STS, and passing and changing them in IAM.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import z3

from slpc.compiler import verbs as V
from slpc.compiler.model import AccessPoint, Asset, Key, Model, Principal
from slpc.policy.document import PolicyDocument, Statement, from_json
from slpc.policy.kinds import GUARDRAIL_KINDS, RESOURCE_KINDS
from slpc.verify.deployment import ENDPOINT, IDENTITY, resource_owner
from slpc.policy.matching import has_wildcard, wildcard_match
from slpc.targets.guardrails import ROLE_CHANGES

from . import roles
from .context import STR, Context, KeyType, key_types
from .encode import Applicable, could_match, tests
from .symbolic_meaning import OBJECT_LEVEL, SEEDS, SymbolicMeaning
from .terms import conj, disj, implies, is_text, negate, text

STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))


def beside_full_access(scp: PolicyDocument) -> PolicyDocument:
    """An SCP as it acts when attached beside AWS's FullAWSAccess (docs/guardrails.md): only its denies count."""
    return PolicyDocument(scp.statements + STAR.statements, scp.version)
ENCRYPTION_SETTINGS = "s3-bucket-encryption"

DATA = "data"
LOCK = "lock"


@dataclass(frozen=True)
class PolicyFile:
    kind: str
    target: str
    account: str
    path: str
    document: PolicyDocument | None
    settings: dict | None = None
    coarser: str | None = None  # the manifest's `coarser`: this layer is exact only with the others
    name: str = ""  # the manifest's `name` (a network's, for its security groups)


CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn"


@dataclass(frozen=True)
class KeyContext:
    """A part of a key's requests by the S3 encryption context they carry: those for one
    bucket's objects (`arn/...`), for the bucket itself (`arn`, S3 Bucket Keys), or for
    none of the key's buckets (`bucket` None: another context, or none). Together the parts
    of a key are every request. One bucket's part is a far smaller question than the whole
    key: its context term is that bucket's ARN (with a free tail for objects), so every test
    of another bucket's context is false before the solver starts."""

    bucket: Asset | None
    objects: bool = False
    buckets: tuple[str, ...] = ()  # with `bucket` None: the ARNs of the key's buckets

    def constrain(self, ctx: Context, values: Iterable[str]) -> list[z3.BoolRef]:
        """Shape the context key of a fresh query context to this part (before any term reads it).

        For the other contexts: no bucket of the key is named, and, as consequences the solver
        would otherwise have to find one string lemma at a time, no test of the policies
        (`values`: the patterns they compare the key with) or of the spec's grants (prefixes)
        whose literal head lies inside one of those buckets holds either."""
        if self.bucket is not None:
            arn = self.bucket.arn
            tail = z3.Concat(text(arn + "/"), z3.String(f"context_tail_{ctx.tag}"))
            ctx.shape(CONTEXT_KEY, tail if self.objects else text(arn))
            return []
        v = ctx.key(CONTEXT_KEY).values[0]
        named = [disj(is_text(v.term, b), z3.PrefixOf(text(b + "/"), v.term)) for b in self.buckets]
        inside = [x for x in values if x.split("*", 1)[0].split("?", 1)[0].startswith(
            tuple(b + "/" for b in self.buckets))]
        return [negate(conj(v.used, disj(*named)))] + [implies(v.used, negate(t))
                                                       for x in inside for t in tests(v.term, x)]

    def holds(self, context: dict[str, str]) -> bool:
        """Whether a concrete request's context falls in this part."""
        value = next((v for k, v in context.items() if k.lower() == CONTEXT_KEY.lower()), None)
        if self.bucket is None:
            return value is None or not any(value == b or value.startswith(b + "/") for b in self.buckets)
        arn = self.bucket.arn
        return value is not None and (value.startswith(arn + "/") if self.objects else value == arn)


@dataclass(frozen=True)
class Target:
    """A part of one asset that requests name: resource ARNs and the actions on them."""

    label: str
    asset: Asset | Key
    arn: str
    objects: bool  # the resource is `arn/...` (objects, API methods), else `arn` itself
    actions: dict[str, tuple[str, ...]]  # DATA / LOCK -> actions
    access_point: AccessPoint | None = None  # requests name the bucket through this access point
    context: KeyContext | None = None  # a key's requests with this encryption context

    def behind(self, resource: z3.SeqRef) -> z3.SeqRef:
        """The same resource named through the bucket (an access point's `.../object/KEY` -> `bucket/KEY`)."""
        if not self.objects:
            return text(self.asset.arn)
        skip = len(self.arn) + 1
        return z3.Concat(text(self.asset.arn + "/"), z3.SubString(resource, skip, z3.Length(resource) - skip))

    def resource(self, ctx: Context) -> z3.BoolRef:
        if self.objects:
            return z3.PrefixOf(text(self.arn + "/"), ctx.resource)
        return is_text(ctx.resource, self.arn)

    @property
    def kms(self) -> bool:
        return isinstance(self.asset, Key)

    @property
    def own_policy(self) -> bool:
        """The asset's own policy must allow (a key's)."""
        return self.kms

    @property
    def arns(self) -> tuple[str, ...]:
        return (self.arn,)

    @property
    def scope(self) -> tuple[str, bool]:
        """Where the resource lies (`arn`, or under `arn/` for objects)."""
        return self.arn, self.objects

    @property
    def account(self) -> str:
        return self.asset.account


# What obtains a role's credentials from STS: with AWS credentials (a role, a user, a service
# principal), or with a web identity or SAML token (a federated caller).
BY_CREDENTIALS = ("sts:AssumeRole", "sts:TagSession")
BY_TOKEN = ("sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")
OBTAIN = BY_CREDENTIALS + BY_TOKEN
PASS_ROLE = "iam:PassRole"
# Roles of one account asked about together in IAM. A query per role pays the solver's
# start each time (4 s for the benchmark platform's 385 roles); all of them in one query
# make the search itself slow (a second); 128 at a time take a tenth of a second each.
ROLES_PER_PART = 128


@dataclass(frozen=True)
class RoleTarget:
    """Roles whose trust the spec declares, as requests name them (their ARNs), in one of two
    parts: obtaining one role's credentials from STS (`sts`: its trust policy is the resource
    policy, and must allow, as a key policy must), or passing and changing some roles of one
    account in IAM (no resource policy applies: identity policies and SCPs decide, within the
    account only; asked together, as the SCPs that decide are shared)."""

    label: str
    roles: tuple[Principal, ...]
    sts: bool
    actions: dict[str, tuple[str, ...]]  # DATA: the STS actions, LOCK: passing and changing
    objects = False  # what an asset `Target` also answers, for the code both go through
    access_point = None
    context = None
    kms = False
    scope = None  # the resource is one of `arns`, each pattern matched against them (`SharedRequest.choices`)

    @property
    def role(self) -> Principal:
        """The STS part's role."""
        return self.roles[0]

    @property
    def arns(self) -> tuple[str, ...]:
        return tuple(p.arn for p in self.roles)

    @property
    def account(self) -> str:
        return self.roles[0].account

    @property
    def own_policy(self) -> bool:
        return self.sts

    def resource(self, ctx: Context) -> z3.BoolRef:
        return disj(*(is_text(ctx.resource, a) for a in self.arns))


def role_targets(model: Model) -> list[RoleTarget]:
    """Per role whose trust the spec declares (a role without a block is out of scope), its STS
    part; then such roles of each account, `ROLES_PER_PART` at a time, in IAM."""
    governed = sorted((p for p in model.principals.values() if p.trust is not None), key=lambda p: p.name)
    out = [RoleTarget(f"{p.name} role in STS", (p,), True, {DATA: OBTAIN, LOCK: ()}) for p in governed]
    for account in sorted({p.account for p in governed}):
        mine = [p for p in governed if p.account == account]
        for i in range(0, len(mine), ROLES_PER_PART):
            some = tuple(mine[i:i + ROLES_PER_PART])
            names = some[0].name if len(some) == 1 else f"{some[0].name} .. {some[-1].name}"
            out.append(RoleTarget(f"{names} in IAM", some, False, {DATA: (), LOCK: (PASS_ROLE, *ROLE_CHANGES)}))
    return out


def _mutating(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(("Describe", "Get", "List"))


def targets(model: Model, split: bool = True) -> list[Target]:
    """The asset parts the claims are asked on: a bucket's objects and the bucket itself
    apart (their actions differ), each key (by encryption context, see `key_targets`),
    then every asset of the other kinds."""
    out = []
    bucket = V.ASSET_KINDS["bucket"]
    for a in model.assets_of("bucket"):
        parts = lambda acts: tuple(x for x in acts if x in OBJECT_LEVEL)  # noqa: E731
        itself = lambda acts: tuple(x for x in acts if x not in OBJECT_LEVEL)  # noqa: E731
        out.append(Target(f"{a.name} objects", a, a.arn, True,
                          {DATA: parts(bucket.data_actions), LOCK: parts(bucket.lock_actions)}))
        out.append(Target(f"{a.name} bucket", a, a.arn, False,
                          {DATA: itself(bucket.data_actions), LOCK: itself(bucket.lock_actions)}))
        for ap in sorted(model.access_points(a.name).values(), key=lambda ap: ap.name):
            out.append(Target(f"{a.name} objects via {ap.name}", a, f"{ap.arn}/object", True,
                              {DATA: parts(bucket.data_actions), LOCK: parts(bucket.lock_actions)}, ap))
            out.append(Target(f"{a.name} bucket via {ap.name}", a, ap.arn, False,
                              {DATA: itself(bucket.data_actions), LOCK: itself(bucket.lock_actions)}, ap))
    for k in sorted(model.keys.values(), key=lambda k: k.name):
        out += key_targets(model, k, split)
    for kind in V.ASSET_KINDS.values():
        if kind is not bucket:
            out += [Target(f"{a.name} {kind.name}", a, a.arn, kind.reach == V.PARTS,
                           {DATA: kind.data_actions, LOCK: kind.lock_actions}) for a in model.assets_of(kind.name)]
    return out


def key_targets(model: Model, k: Key, split: bool) -> list[Target]:
    """A key's administration, then its use by encryption context: for each of its buckets'
    objects, for each bucket itself, and for any other context (`KeyContext`). Without
    `split` (the context key has several values somewhere), the key is one target."""
    admin = tuple(x for x in V.KMS_ADMIN_ACTIONS if _mutating(x))
    buckets = [a for a in model.assets_of("bucket") if a.key == k.name]
    if not split or not buckets:
        return [Target(f"{k.name} key", k, k.arn, False, {DATA: V.KMS_CRYPTO_ACTIONS, LOCK: admin})]
    use = {DATA: V.KMS_CRYPTO_ACTIONS, LOCK: ()}
    out = [Target(f"{k.name} key", k, k.arn, False, {DATA: (), LOCK: admin})]
    for b in buckets:
        out += [Target(f"{k.name} key for {b.name} objects", k, k.arn, False, use, context=KeyContext(b, True)),
                Target(f"{k.name} key for {b.name} bucket", k, k.arn, False, use, context=KeyContext(b))]
    others = KeyContext(None, buckets=tuple(b.arn for b in buckets))
    return out + [Target(f"{k.name} key for other contexts", k, k.arn, False, use, context=others)]


@lru_cache(maxsize=1 << 16)  # a statement is asked about by every target of its kind
def _names_action(st: Statement, acts: tuple[str, ...]) -> bool:
    if st.actions:
        return any(wildcard_match(p, a, True) for p in st.actions for a in acts)
    return any(not any(wildcard_match(p, a, True) for p in st.not_actions) for a in acts)


def touches(st: Statement, target: Target | RoleTarget) -> bool:
    """Whether a statement can apply to some request of the target (its actions and resources)."""
    if not _names_action(st, target.actions[DATA] + target.actions[LOCK]):
        return False
    if st.resources:
        return "*" in st.resources or any(could_match(p, a, target.objects)
                                          for p in st.resources for a in target.arns)
    return True  # NotResource, or no Resource (a resource policy's own resource)


def _root(pattern: str) -> str | None:
    """The part of a resource pattern before its first `/`, or None if a wildcard comes first."""
    head = pattern.split("/", 1)[0]
    return None if has_wildcard(head) else head


class StatementIndex:
    """Statements by the resource root they name, to find the few that can touch a target
    among the many of a large deployment. Statements naming none of the governed
    `actions` (`ecr:GetAuthorizationToken` on `*`, in every ECR endpoint policy) are
    left out: they touch no target, and keeping them makes every lookup grow with the
    deployment."""

    def __init__(self, entries: Iterable[tuple[str, Statement]], actions: frozenset[str]):
        self.by_root: dict[str | None, list[tuple[str, Statement]]] = defaultdict(list)
        governed = tuple(sorted(actions))
        for owner, st in entries:
            if not _names_action(st, governed):
                continue
            roots = {_root(p) for p in st.resources} if st.resources else {None}
            for root in roots:
                self.by_root[root].append((owner, st))

    def touching(self, target: Target | RoleTarget) -> list[tuple[str, Statement]]:
        roots = {None} | {a.split("/", 1)[0] for a in target.arns}
        return [(o, st) for r in roots for o, st in self.by_root.get(r, ()) if touches(st, target)]


class World:
    """The policies, indexed the way AWS picks them for a request (as `verify.deployment`)."""

    def __init__(self, model: Model, files: Iterable[PolicyFile]):
        self.model = model
        self.files = [f for f in files]
        docs = [f for f in self.files if f.document is not None]
        self.identity = {}
        for f in docs:
            if f.kind == IDENTITY:
                self.identity.setdefault(f.target, []).append(f)
        self.resource = {f.target: f for f in docs if f.kind in RESOURCE_KINDS}
        self.endpoints = {f.target: f for f in docs if f.kind == ENDPOINT}
        self.scps = [f for f in docs if f.kind == "scp"]
        self.rcps = [f for f in docs if f.kind == "rcp"]
        self.settings = {(f.kind, f.target): f.settings for f in self.files if f.settings is not None}
        self.coarser = {f.target for f in docs if f.coarser}  # resource policies stated coarser (manifest)
        self.assumptions = tuple(
            f"S3 calls KMS with key `{k.name}` for a caller only on a request S3 has authorized "
            f"(its key policy names accounts, W352)" for k in model.keys.values() if k.arn in self.coarser)
        self.types = key_types([f.document for f in docs], SEEDS)
        self.context_values = sorted(
            {v for d in docs for st in d.document.statements for c in st.conditions
             if c.key.lower() == CONTEXT_KEY.lower() for v in c.values}
            | {f"{model.assets[g.asset].arn}/{g.prefix}*" for g in model.grants if model.assets[g.asset].key})
        self.targets = targets(model, split=self.types.get(CONTEXT_KEY.lower(), KeyType(STR)).bound == 1)
        self.roles = role_targets(model)
        self.providers = sorted(roles.providers(model) | {  # what a federated caller's ARN can be told apart from
            v for f in docs if f.kind in RESOURCE_KINDS for st in f.document.statements
            for p in (st.principal, st.not_principal) if p is not None for v in p.values("Federated")})
        self.parts: list[Target | RoleTarget] = [*self.targets, *self.roles]  # what `prove` asks about
        self.role_assumptions = self._scp_assumptions()
        self.situations: dict = {}  # solver.Situation, built once per caller and target
        self.requests: dict = {}  # solver.shared_request: each target's symbolic request, shared by its callers
        self.meaning = SymbolicMeaning(model)
        self._paths = {id(f.document): f.path for f in docs} | {id(STAR): "*:* (identity)"}
        governed = frozenset(a for t in self.parts for part in (DATA, LOCK) for a in t.actions[part])
        self._endpoint_index = StatementIndex(((f.target, st) for f in self.endpoints.values()
                                               for st in f.document.statements), governed)
        self._identity_index = StatementIndex(((f.target, st) for fs in self.identity.values() for f in fs
                                               for st in f.document.statements), governed)
        self._by_arn = {p.arn: p.name for p in model.principals.values()}
        self._open: dict[str, set[str]] = {}
        self._related: dict[str, list[str]] = {}

    def _scp_assumptions(self) -> tuple[str, ...]:
        """What claim 7 assumes of the roles whose account no SCP file names (`scp_accounts`)."""
        named = {f.account for f in self.scps}
        elsewhere: dict[str, list[str]] = {}
        for t in self.roles:
            if named and t.sts and t.account not in named:
                elsewhere.setdefault(t.account, []).append(t.role.name)
        return tuple(f"the SCPs are attached above account {a}, where role{'s' if len(names) > 1 else ''} "
                     f"{', '.join(names)} can be passed and changed" for a, names in elsewhere.items())

    def scp_accounts(self, target: Target | RoleTarget) -> set[str]:
        """The accounts whose callers the SCPs bind: those the files name, and the own account of a
        role or of a target without a resource policy (the SCPs go on the OU holding the spec's
        accounts, docs/guardrails.md)."""
        named = {f.account for f in self.scps}
        rests = isinstance(target, RoleTarget) or not self.has_resource_policy(target)
        return named | {target.account} if rests and named else named

    def open_endpoints(self, target: Target) -> set[str]:
        """The endpoints with a statement that can touch the target; through the others it is denied."""
        if target.label not in self._open:
            self._open[target.label] = {vid for vid, _ in self._endpoint_index.touching(target)}
        return self._open[target.label]

    def related(self, target: Target) -> list[str]:
        """The spec's roles that the spec or a policy touching the target singles out.

        Any other role is covered by the outsider there: no statement that can apply
        tells it apart from an unnamed role, and the spec gives it nothing on the asset.
        """
        if isinstance(target, RoleTarget):  # the outsider is anyone there; the claim says whom it may be
            return []
        if target.label not in self._related and target.kms and target.context and target.context.bucket:
            self._related[target.label] = self._key_part_related(target)
        if target.label not in self._related:
            sm = self.meaning
            names = set(target.asset.admins) | set(getattr(target.asset, "breakglass", ()))
            buckets = sm.buckets_of_key.get(target.asset.name, []) if target.kms else [target.asset.name]
            if target.access_point is not None:  # the spec gives the bucket's other grantees nothing here
                names.add(target.access_point.principal)
            else:
                names |= {g.principal for b in buckets for g in sm.on_asset.get(b, [])}
            names |= {self._by_arn[arn] for arn, _ in self._identity_index.touching(target)}
            owner = self.resource.get(resource_owner(target.arn))
            statements = [st for _, st in self._endpoint_index.touching(target)]
            statements += [st for st in owner.document.statements if touches(st, target)] if owner else []
            for st in statements:
                p = st.principal or st.not_principal
                values = [v for c in st.conditions for v in c.values] + list(p.values("AWS") if p else ())
                for v in values:
                    if has_wildcard(v):
                        names |= {n for arn, n in self._by_arn.items() if wildcard_match(v, arn)}
                    elif v in self._by_arn:
                        names.add(self._by_arn[v])
            self._related[target.label] = sorted(names)
        return self._related[target.label]

    def _key_part_related(self, target: Target) -> list[str]:
        """On a bucket's part of a split key (`key_targets`): the key's admins and the
        bucket's grantees. Every other role is left to the outsider, even
        one a statement names (another bucket's grantee, in the key policy): the spec gives it
        nothing here, and the outsider, whose ARN may be any role's, holds `*:*`, which allows
        at least what the role's own identity policies allow; so each claim asked of the
        outsider (nothing allowed, or nothing outside the spec) covers that role too."""
        grantees = {g.principal for g in self.meaning.on_asset.get(target.context.bucket.name, [])}
        return sorted(set(target.asset.admins) | grantees)

    @classmethod
    def from_artifacts(cls, model: Model, artifacts) -> "World":
        return cls(model, (PolicyFile(a.kind, a.target, a.account, a.path, a.document, a.settings, a.coarser, a.name)
                           for a in artifacts))

    @classmethod
    def from_directory(cls, model: Model, directory: str | Path) -> "World":
        """A directory in manifest layout (docs/manifest.md): compiled, hand-edited or fetched."""
        root = Path(directory)
        manifest = json.loads((root / "manifest.json").read_text())
        files = []
        for a in manifest["artifacts"]:
            data = json.loads((root / a["path"]).read_text())
            is_policy = a["kind"] in RESOURCE_KINDS | GUARDRAIL_KINDS | {IDENTITY, ENDPOINT}
            files.append(PolicyFile(a["kind"], a["target"], a["account"], a["path"],
                                    from_json(data) if is_policy else None, None if is_policy else data,
                                    a.get("coarser"), a.get("name", "")))
        return cls(model, files)

    def label(self, doc: PolicyDocument) -> tuple[str, PolicyDocument]:
        """The document with its artifact path, for the evaluator's explanations."""
        return self._paths.get(id(doc), "org (SCP beside FullAWSAccess)"), doc

    def bucket_policy(self, target: Target) -> PolicyDocument | None:
        """For a target through an access point: the policy of the bucket behind it."""
        owner = self.resource.get(target.asset.arn) if target.access_point is not None else None
        return owner.document if owner else None

    def owner(self, target: Target | RoleTarget) -> PolicyFile | None:
        """The resource policy that applies to the target's requests (a role's trust policy in STS only)."""
        if isinstance(target, RoleTarget):
            return self.resource.get(target.role.arn) if target.sts else None
        return self.resource.get(resource_owner(target.arn))

    def has_resource_policy(self, target: Target) -> bool:
        return self.owner(target) is not None

    def resource_account(self, target: Target | RoleTarget) -> str:
        owner = self.owner(target)
        return owner.account if owner else target.account

    def applicable(self, principal: str | None, target: Target | RoleTarget, star: bool, guardrails: bool,
                   iam: bool = True) -> Applicable:
        """`principal` None is the outsider (whose only identity policy is `*:*`), or without
        `iam` an anonymous, AWS service or federated caller, to whom neither IAM policies nor SCPs apply."""
        owner = self.owner(target)
        identity = [f.document for f in self.identity.get(principal, [])] if principal else []
        account = self.resource_account(target)
        return Applicable(
            identity=identity + ([STAR] if star or principal is None else []) if iam else [],
            resource=owner.document if owner else None,
            endpoints={vid: self.endpoints[vid].document for vid in sorted(self.open_endpoints(target))},
            closed=tuple(sorted(set(self.endpoints) - self.open_endpoints(target))),
            scps=[beside_full_access(f.document) for f in self.scps] if guardrails and iam else [],
            rcps=[f.document for f in self.rcps if f.account == account] if guardrails else [],
            own_policy=target.own_policy,
        )
