"""The spec's meaning (`slpc.verify.meaning.Meaning`) as Z3 terms over a symbolic request.

Branch for branch the same function, with the request's context symbolic and the
caller and action concrete per term; computed from the Model and the verb table
only, never from the policies, so "the policies allow exactly this" is a claim
between two independent descriptions.
"""

from __future__ import annotations

import z3

from slpc.compiler import flow_logs, routes
from slpc.compiler import verbs as V
from slpc.compiler.model import AccessPoint, Asset, Grant, Key, Model
from slpc.compiler.values import DNS_SUFFIX
from slpc.verify.conditions import parse_date
from slpc.verify.meaning import own_s3_actions

from .context import BOOL, DATE, IAM, IP, NUM, STR, Caller, Context
from .encode import in_network
from .terms import conj, disj, implies, is_text, negate, text

# The families of the keys the meaning reads, whatever the policies do with them.
SEEDS = {
    "aws:sourcevpce": STR, "aws:sourceip": IP, "aws:currenttime": DATE, "aws:securetransport": BOOL,
    "aws:principalisawsservice": BOOL, "aws:viaawsservice": BOOL, "aws:principalarn": STR,
    "aws:principalaccount": STR, "aws:resourceaccount": STR, "aws:requestedregion": STR,
    "s3:tlsversion": NUM, "s3:signatureage": NUM, "s3:object-lock-remaining-retention-days": NUM,
    "s3:prefix": STR, "s3:x-amz-server-side-encryption": STR, "s3:x-amz-server-side-encryption-aws-kms-key-id": STR,
    "s3:x-amz-server-side-encryption-customer-algorithm": STR, "kms:viaservice": STR, "kms:calleraccount": STR,
    "kms:encryptioncontext:aws:s3:arn": STR, "kms:bypasspolicylockoutsafetycheck": BOOL,
    "kms:encryptioncontext:aws:logs:arn": STR,
}
TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)
OBJECT_LEVEL = frozenset(V.S3_OBJECT_DATA_ACTIONS) | {
    V.S3_BYPASS_GOVERNANCE, "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutObjectRetention"}


def _first(ctx: Context, name: str):
    """(present, first value): what `Meaning` reads from a context key."""
    key = ctx.key(name)
    return key.present, key.values[0]


def _is(ctx: Context, name: str, text: str) -> z3.BoolRef:
    present, v = _first(ctx, name)
    if ctx.key(name).type.family == "bool":
        return conj(present, v.term == ctx.key(name).type.domain.index(text))
    return conj(present, is_text(v.term, text))


class SymbolicMeaning:
    """`permits(ctx, caller, action, resource_asset, star)`: a term, true when the spec permits it."""

    def __init__(self, model: Model):
        self.m = model
        # the meaning of a request on each asset kind (compiler.verbs.ASSET_KINDS)
        self.by_kind = {"bucket": self.s3, "repository": self.ecr, "endpoint": self.endpoint, "api": self.api}
        self.by_owner: dict[tuple, list[Grant]] = {}
        self.on_asset: dict[str, list[Grant]] = {}
        for g in model.grants:
            self.by_owner.setdefault((g.principal, g.asset), []).append(g)
            self.on_asset.setdefault(g.asset, []).append(g)
        self.buckets_of_key: dict[str, list[str]] = {}
        for a in model.assets_of("bucket"):
            self.buckets_of_key.setdefault(a.key, []).append(a.name)
        self.unions = {a.name: sorted({n for g in self.on_asset.get(a.name, []) for n in g.networks})
                       for a in model.assets.values()}
        # Every endpoint whose policy slpc writes, and the networks declaring it.
        self.places: dict[str, list] = {}
        for net in model.networks.values():
            for svc, vid in net.endpoints:
                if svc in V.POLICED_ENDPOINT_SERVICES:
                    self.places.setdefault(vid, []).append((net, svc))
        self.kms_places = {vid for vid, at in self.places.items() if any(svc == "kms" for _, svc in at)}
        self._letting: dict[tuple, list[str]] = {}

    def grants_of(self, who: str | None, asset: str) -> list[Grant]:
        return self.by_owner.get((who, asset), [])

    # -- shared pieces ------------------------------------------------------ #
    def in_networks(self, ctx: Context, networks, services) -> z3.BoolRef:
        return ctx.memo(("in", tuple(networks), tuple(services)), lambda: self._in_networks(ctx, networks, services))

    def _in_networks(self, ctx: Context, networks, services) -> z3.BoolRef:
        vp, vpce = _first(ctx, "aws:SourceVpce")
        ip_p, ip = _first(ctx, "aws:SourceIp")
        terms = []
        for name in networks:
            net = self.m.networks[name]
            ids = net.endpoint_ids(services)
            terms += [conj(vp, is_text(vpce.term, i)) for i in ids]
            if V.reachable_from_cidrs(services):
                terms += [conj(ip_p, in_network(ip, c)) for c in net.cidrs]
        return disj(*terms)

    def before(self, ctx: Context, until: str | None) -> z3.BoolRef:
        if until is None:
            return TRUE
        present, now = _first(ctx, "aws:CurrentTime")
        return conj(present, now.term < z3.RealVal(repr(parse_date(until))))

    def service_exempt(self, ctx: Context) -> z3.BoolRef:
        return ctx.memo("exempt", lambda: disj(_is(ctx, "aws:PrincipalIsAWSService", "true"),
                                               _is(ctx, "aws:ViaAWSService", "true")))

    def grant_holds(self, ctx: Context, g: Grant, services) -> z3.BoolRef:
        return conj(self.in_networks(ctx, g.networks, services), self.before(ctx, g.until))

    def _union(self, asset: Asset) -> list[str]:
        return self.unions[asset.name]

    # -- the question ------------------------------------------------------- #
    def permits(self, ctx: Context, caller: Caller, action: str, asset: Asset | Key, star: bool,
                via: AccessPoint | None = None) -> z3.BoolRef:
        who = caller.name
        if via is not None:  # only its grantee, only for what it may do on the bucket (Meaning.through_access_point)
            if via.principal != who or action not in own_s3_actions(self.m, asset, who):
                return FALSE
            body = self.s3(ctx, asset, who, caller, action, star, via)
        elif isinstance(asset, Key):
            body = self.kms(ctx, asset, who, caller, action)
        else:
            body = self.by_kind[asset.kind](ctx, asset, who, caller, action, star)
        return conj(self.through_endpoint(ctx, who, action, asset), body)

    def through_endpoint(self, ctx: Context, who: str | None, action: str, asset) -> z3.BoolRef:
        """Through one of the spec's endpoints, only what the spec routes through it.

        The context's bystanders (see `solver.Situation`) are left out of "policed": the
        query never needs them, and listing every endpoint would grow each query with
        the deployment."""
        present, vpce = _first(ctx, "aws:SourceVpce")
        policed = ctx.memo(("policed", ctx.bystanders), lambda: conj(present, disj(
            *(is_text(vpce.term, vid) for vid in sorted(set(self.places) - ctx.bystanders)))))
        letting = self.letting(who, action, asset)
        return implies(policed, disj(*(is_text(vpce.term, vid) for vid in letting)))

    def letting(self, who: str | None, action: str, asset) -> list[str]:
        """The spec's endpoints through which it lets `who` perform `action` on `asset`
        (computed once: every query on the asset asks)."""
        key = (who, action, asset.name, isinstance(asset, Key))
        if key not in self._letting:
            self._letting[key] = self._lets(who, action, asset)
        return self._letting[key]

    def _lets(self, who: str | None, action: str, asset) -> list[str]:
        if isinstance(asset, Key):  # key administration is not network-bound: any KMS endpoint may let it
            vids = self.kms_places
        else:
            names = {n for g in self.grants_of(who, asset.name) for n in g.networks} | set(self._union(asset))
            names |= set(asset.authorizer.networks) if getattr(asset, "authorizer", None) else set()
            vids = {vid for n in names for _, vid in self.m.networks[n].endpoints}
        return sorted(vid for vid in vids if vid in self.places
                      and any(self._endpoint_lets(net, svc, who, action, asset) for net, svc in self.places[vid]))

    def _endpoint_lets(self, net, svc: str, who, action: str, asset) -> bool:
        if svc == "kms":
            return isinstance(asset, Key) and who in asset.admins and action in V.KMS_ADMIN_ACTIONS
        if isinstance(asset, Key) or asset.kind not in V.kinds_reached_through(svc):
            return False
        on_parts = asset.kind == "api" or (asset.kind == "bucket" and action in OBJECT_LEVEL)
        on_itself = asset.kind != "api" and not on_parts
        if asset.kind == "api" and asset.authorizer and net.name in asset.authorizer.networks \
                and action in V.VERBS[("api", "invoke")].actions_with(V.API):
            return True  # anyone: the stage's Cognito authorizer decides who (Meaning._endpoint_lets)
        for g in self.grants_of(who, asset.name):
            if net.name in g.networks and any(
                    a == action and scope not in (V.KEY_VIA_S3, V.ACCOUNT)
                    and (on_parts if scope in (V.OBJECT, V.API) else on_itself)
                    for a, scope in V.VERBS[(asset.kind, g.verb)].actions):
                return True
        if net.name in self._union(asset):
            admin = V.ASSET_KINDS[asset.kind].admin_actions
            return (on_itself and who in asset.admins and action in admin) or (
                on_parts and who in asset.breakglass and action in V.S3_BREAKGLASS_ACTIONS)
        return False

    def _same(self, caller: Caller, asset) -> z3.BoolRef:
        return is_text(caller.account, asset.account)

    def _transport(self, ctx: Context, asset: Asset) -> z3.BoolRef:
        """TLS, TLS version and signature age: what every S3 request to the bucket needs."""
        tls_p, tls = _first(ctx, "s3:TlsVersion")
        age_p, age = _first(ctx, "s3:signatureAge")
        inside = self.in_networks(ctx, self._union(asset), ("s3",))
        return conj(negate(_is(ctx, "aws:SecureTransport", "false")),
                    implies(tls_p, tls.term >= z3.RealVal("1.2")),
                    implies(age_p, age.term <= asset.signature_age_ms),
                    disj(inside, self.service_exempt(ctx)))

    def s3(self, ctx: Context, asset: Asset, who, caller: Caller, action: str, star: bool,
           via: AccessPoint | None = None) -> z3.BoolRef:
        """As `Meaning.s3`: on a bucket reached through access points, a direct request for
        data is denied and a grant's other actions are no longer the grant's."""
        direct_only = asset.access_points == "always" and via is None
        pre = [ctx.memo(("s3", asset.name), lambda: self._transport(ctx, asset))]
        if asset.object_lock and action in ("s3:PutObject", "s3:PutObjectRetention"):
            days_p, days = _first(ctx, "s3:object-lock-remaining-retention-days")
            pre.append(implies(days_p, days.term <= asset.object_lock[1]))
        inside = self.in_networks(ctx, self._union(asset), ("s3",))
        is_object = action in OBJECT_LEVEL
        entitled, holds = self.s3_grants(ctx, asset, who, action, is_object, via)
        if direct_only and (action in V.S3_OBJECT_DATA_ACTIONS or action in V.S3_BUCKET_DATA_ACTIONS):
            return FALSE
        if direct_only:
            entitled = False  # the identity policies grant through the access point only
        if action in V.S3_OBJECT_DATA_ACTIONS or action in V.S3_BUCKET_DATA_ACTIONS:
            if action == "s3:PutObject":
                pre.append(self.encryption_ok(ctx, asset))
            if action == "s3:DeleteObjectVersion" and who in asset.breakglass and is_object:
                holds = disj(inside, holds)
            body = holds
        elif entitled:
            body = holds
        elif action == V.S3_BYPASS_GOVERNANCE:
            body = z3.BoolVal(who in asset.breakglass and is_object)
            if direct_only:
                body = conj(body, z3.BoolVal(star), self._same(caller, asset))
        elif action in V.S3_PERIMETER_ACTIONS:
            body = conj(z3.BoolVal(who in asset.admins and (action in V.S3_ADMIN_ACTIONS or star)),
                        self._same(caller, asset))
        elif action in V.S3_ADMIN_ACTIONS and who in asset.admins and not is_object:
            body = TRUE
        else:
            body = conj(z3.BoolVal(star), self._same(caller, asset))
        return conj(*pre, body)

    def s3_grants(self, ctx: Context, asset: Asset, who, action: str, is_object: bool,
                  via: AccessPoint | None = None):
        base = f"{via.arn}/object" if via is not None else asset.arn  # how the request names the objects
        entitled, holds = False, []
        for g in self.grants_of(who, asset.name):
            for a, scope in V.VERBS[("bucket", g.verb)].actions:
                if a != action or scope == V.KEY_VIA_S3 or (scope == V.OBJECT) != is_object:
                    continue
                entitled = True
                if scope == V.OBJECT:
                    where = z3.PrefixOf(text(f"{base}/{g.prefix}"), ctx.resource)
                elif scope == V.BUCKET_PREFIX and g.prefix:
                    present, prefix = _first(ctx, "s3:prefix")
                    where = conj(present, z3.PrefixOf(text(g.prefix), prefix.term))
                else:
                    where = TRUE
                holds.append(conj(self.grant_holds(ctx, g, ("s3",)), where))
        return entitled, disj(*holds)

    def encryption_ok(self, ctx: Context, asset: Asset) -> z3.BoolRef:
        sse_p, sse = _first(ctx, "s3:x-amz-server-side-encryption")
        key_p, key = _first(ctx, "s3:x-amz-server-side-encryption-aws-kms-key-id")
        ssec_p, _ = _first(ctx, "s3:x-amz-server-side-encryption-customer-algorithm")
        kms = text("aws:kms")
        return conj(negate(ssec_p), implies(sse_p, sse.term == kms),
                    negate(conj(sse_p, sse.term == kms, negate(key_p))),
                    implies(key_p, is_text(key.term, self.m.keys[asset.key].arn)))

    def through_s3_into(self, ctx: Context, key: Key) -> z3.BoolRef:
        """The request is a use of `key` that S3 makes for an object (or, with S3 Bucket Keys,
        the bucket) of one of the spec's buckets under this key."""
        via = f"s3.{key.region}.{DNS_SUFFIX[self.m.deployment.partition]}"
        arn_p, arn = _first(ctx, "kms:EncryptionContext:aws:s3:arn")
        arns = [self.m.assets[b].arn for b in self.buckets_of_key.get(key.name, [])]
        into = disj(*(disj(is_text(arn.term, a), z3.PrefixOf(text(f"{a}/"), arn.term)) for a in arns))
        return conj(_is(ctx, "kms:ViaService", via), arn_p, into)

    def kms(self, ctx: Context, key: Key, who, caller: Caller, action: str) -> z3.BoolRef:
        if action in V.KMS_CRYPTO_ACTIONS:
            terms = []
            via = f"s3.{key.region}.{DNS_SUFFIX[self.m.deployment.partition]}"
            for asset in (self.m.assets[b] for b in self.buckets_of_key.get(key.name, [])):
                for g in self.grants_of(who, asset.name):
                    if action not in V.VERBS[("bucket", g.verb)].actions_with(V.KEY_VIA_S3):
                        continue
                    arn_p, arn = _first(ctx, "kms:EncryptionContext:aws:s3:arn")
                    scoped = conj(arn_p, disj(is_text(arn.term, asset.arn),
                                              z3.PrefixOf(text(f"{asset.arn}/{g.prefix}"), arn.term)))
                    terms.append(conj(self.before(ctx, g.until), _is(ctx, "kms:ViaService", via),
                                      _is(ctx, "kms:CallerAccount", self.m.principals[who].account), scoped))
            return disj(*terms)
        ok = z3.BoolVal(action in V.KMS_ADMIN_ACTIONS and who in key.admins)
        if action == "kms:PutKeyPolicy":
            return conj(negate(_is(ctx, "kms:BypassPolicyLockoutSafetyCheck", "true")), ok)
        return ok

    def service_key_use(self, ctx: Context, caller: Caller, key: Key, action: str) -> z3.BoolRef:
        """What the spec lets an AWS service principal do with a key (`Meaning.service_key_use`):
        CloudWatch Logs of the key's region, for the flow-log group's encryption context only."""
        dest = flow_logs.destination(self.m)
        if dest is None or dest.key != key.name or action not in flow_logs.LOGS_KEY_ACTIONS:
            return FALSE
        return conj(is_text(caller.arn, dest.logs_principal), _is(ctx, flow_logs.LOGS_CONTEXT_KEY, dest.arn))

    def ecr(self, ctx: Context, asset: Asset, who, caller: Caller, action: str, star: bool) -> z3.BoolRef:
        services = V.ASSET_SERVICES["repository"]
        pre = disj(self.in_networks(ctx, self._union(asset), services), self.service_exempt(ctx))
        if action in V.ECR_IMAGE_ACTIONS:
            body = disj(*(self.grant_holds(ctx, g, services) for g in self.grants_of(who, asset.name)
                           if action in V.VERBS[("repository", g.verb)].actions_with(V.REPOSITORY)))
        elif action in V.ECR_PERIMETER_ACTIONS:
            body = conj(z3.BoolVal(who in asset.admins and (action in V.ECR_ADMIN_ACTIONS or star)),
                        self._same(caller, asset))
        elif action in V.ECR_ADMIN_ACTIONS and who in asset.admins:
            body = TRUE
        else:
            body = conj(z3.BoolVal(star), self._same(caller, asset))
        return conj(pre, body)

    def api(self, ctx: Context, asset: Asset, who, caller: Caller, action: str, star: bool) -> z3.BoolRef:
        services = V.ASSET_SERVICES["api"]
        pre = self.in_networks(ctx, self.m.api_networks(asset.resource_name), services)
        if action not in V.VERBS[("api", "invoke")].actions_with(V.API):
            return conj(pre, z3.BoolVal(star), self._same(caller, asset))
        if asset.authorizer is not None:  # as in `Meaning.api`
            caller_ok = disj(z3.BoolVal(caller.kind != IAM or star), self._same(caller, asset))
            return conj(pre, caller_ok, self.in_networks(ctx, sorted(asset.authorizer.networks), services))
        return conj(pre, disj(*(conj(self.grant_holds(ctx, g, services), self.on_route(ctx, asset, g.prefix))
                                for g in self.grants_of(who, asset.name))))

    @staticmethod
    def on_route(ctx: Context, asset: Asset, route: str) -> z3.BoolRef:
        """The request's resource is on the grant's route (`routes.covers` as a term)."""
        return disj(*(is_text(ctx.resource, f"{asset.arn}/{start}") if whole
                      else z3.PrefixOf(text(f"{asset.arn}/{start}"), ctx.resource)
                      for start, whole in routes.matches(route)))

    def endpoint(self, ctx: Context, asset: Asset, who, caller: Caller, action: str, star: bool) -> z3.BoolRef:
        services = V.ASSET_SERVICES["endpoint"]
        if action in V.ASSET_KINDS["endpoint"].data_actions:  # the grants' alone, as in `Meaning.endpoint`
            if who in self.m.integration_roles(asset.name):
                return z3.BoolVal(action in V.INTEGRATION_ACTIONS)
            return disj(*(self.grant_holds(ctx, g, services) for g in self.grants_of(who, asset.name)
                          if action in V.VERBS[("endpoint", g.verb)].actions_with(V.ENDPOINT)))
        return conj(z3.BoolVal(star), self._same(caller, asset))
