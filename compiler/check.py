"""Name resolution and checks: typed ASTs (one or more files) -> Model.

Everything a target would otherwise have to guess is decided here, with a
diagnostic that points at the source: unknown names, verbs that do not fit the
asset, networks with no way to reach the asset's service, malformed identifiers,
partition and region mismatches, separation-of-duty conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Sequence

from slpc.dsl import ast
from slpc.diagnostics import Diagnostic, Span, did_you_mean, error, warning

from . import authorizers, integrations, routes, values
from . import networks as netcheck
from .model import Asset, Deployment, Grant, Key, Model, Network, Principal
from .trust import ROLE, TrustChecker
from .verbs import reachable_from_cidrs
from .verbs import ACCOUNT, ASSET_SERVICES, KEY_VIA_S3, KNOWN_ENDPOINT_SERVICES, VERBS, verbs_for

AUDIT_KINDS = ("data_events",)
GUARDRAILS = ("scp", "rcp")
# IAM's "managed policies per role" quota: 10 by default, raisable to 20 (Service Quotas)
MANAGED_POLICIES_DEFAULT, MANAGED_POLICIES_MAX = 10, 20
# Presigned URLs: how long a signature stays usable on a model bucket.
DEFAULT_SIGNATURE_AGE_MS = 15 * 60_000
MAX_SIGNATURE_AGE_MS = 7 * 24 * 3_600_000  # SigV4 presigned URLs live at most 7 days
LOCK_MODES = ("governance", "compliance")
# How a bucket is reached: `auto` = through access points only when its exact policy does not fit.
ACCESS_POINT_MODES = ("auto", "always", "never")
# how coarse a network's endpoint policies may become to fit (targets/endpoints.py FORMS):
# any form; only forms the resource policies keep exact; each principal named
ENDPOINT_POLICY_MODES = ("auto", "no_gaps", "exact")
# how coarse a key policy may become to fit (targets/key.py): the grantees' accounts (W352); each grantee named
KEY_POLICY_MODES = ("auto", "exact")
MAX_LOCK_DAYS = 36500


@dataclass
class CheckResult:
    model: Model | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Checker:
    def __init__(self, now: datetime):
        self.now = now
        self.diags: list[Diagnostic] = []
        self.decls: dict[str, ast.Declaration] = {}

    def err(self, code: str, msg: str, span: Span | None, hint: str | None = None) -> None:
        self.diags.append(error(code, msg, span, hint))

    def warn(self, code: str, msg: str, span: Span | None, hint: str | None = None) -> None:
        self.diags.append(warning(code, msg, span, hint))

    def mode(self, node: ast.Name | None, attribute: str, modes: tuple[str, ...], code: str) -> str | None:
        """The mode an attribute chooses (the first of `modes` when absent), or None after
        an error naming the nearest mode."""
        if node is None:
            return modes[0]
        if node.text not in modes:
            self.err(code, f"unknown {attribute} mode `{node.text}`", node.span,
                     did_you_mean(node.text, modes) or "modes: " + ", ".join(modes))
            return None
        return node.text

    def value(self, problem: values.Problem, span: Span, code: str = "E301") -> bool:
        if problem:
            self.err(code, problem[0], span, problem[1])
            return False
        return True

    # -- declarations ------------------------------------------------------- #
    def collect(self, specs: Sequence[ast.Spec]) -> ast.Deployment | None:
        deployments = []
        for spec in specs:
            for d in spec.declarations:
                if isinstance(d, ast.Deployment):
                    deployments.append(d)
                    continue
                if isinstance(d, ast.Allow):
                    continue
                name = d.name.text
                if name in self.decls:
                    first = self.decls[name]
                    self.err("E202", f"`{name}` is declared twice", d.name.span,
                             f"the first declaration is at {first.name.span.file}:{first.name.span.line}; "
                             "every declared name must be unique")
                else:
                    self.decls[name] = d
        if not deployments:
            first = specs[0] if specs else None
            span = Span(first.file, 1, 1, 1, 2) if first else None
            self.err("E210", "no `deployment` block", span,
                     'declare the deployment once: deployment "NAME" { account "..." regions [...] }')
            return None
        for extra in deployments[1:]:
            self.err("E211", "a second `deployment` block", extra.name.span,
                     f"the deployment is declared at {deployments[0].span.file}:{deployments[0].span.line}; keep one")
        return deployments[0]

    def deployment(self, d: ast.Deployment) -> Deployment | None:
        part = d.partition.value if d.partition else "aws"
        ok = self.value(values.partition(part), d.partition.span) if d.partition else True
        ok &= self.value(values.account(d.account.value), d.account.span)
        if d.org:
            ok &= self.value(values.org(d.org.value), d.org.span)
        if d.management_account:
            ok &= self.value(values.account(d.management_account.value), d.management_account.span)
        if not d.regions:
            self.err("E302", "the deployment names no region", d.span, 'regions ["eu-central-1"]')
            ok = False
        seen = set()
        for r in d.regions:
            ok &= self.value(values.region(r.value, part), r.span)
            if r.value in seen:
                self.warn("W303", f'region "{r.value}" is listed twice', r.span)
            seen.add(r.value)
        guardrails = GUARDRAILS
        if d.guardrails is not None:
            for g in d.guardrails:
                if g.text not in GUARDRAILS:
                    self.err("E322", f"unknown guardrail `{g.text}`", g.span,
                             did_you_mean(g.text, GUARDRAILS) or "guardrails: scp, rcp (or [] for none)")
                    ok = False
            guardrails = tuple(g for g in GUARDRAILS if any(n.text == g for n in d.guardrails))
        managed = d.managed_policies.value if d.managed_policies else MANAGED_POLICIES_DEFAULT
        if d.managed_policies and not 1 <= managed <= MANAGED_POLICIES_MAX:
            self.err("E325", f"{managed} managed policies per role is outside IAM's quota range "
                     f"1-{MANAGED_POLICIES_MAX}", d.managed_policies.span,
                     f"AWS attaches {MANAGED_POLICIES_DEFAULT} per role by default; Service Quotas raises it "
                     f"to at most {MANAGED_POLICIES_MAX}")
            ok = False
        if not ok:
            return None
        return Deployment(d.name.value, part, d.account.value,
                          tuple(dict.fromkeys(r.value for r in d.regions)), d.org.value if d.org else None,
                          guardrails, managed, d.management_account.value if d.management_account else None)

    def network(self, n: ast.Network, dep: Deployment) -> Network | None:
        ok = True
        acct = dep.account
        if n.account:
            ok &= self.value(values.account(n.account.value), n.account.span)
            acct = n.account.value
        if n.vpc:
            ok &= self.value(values.vpc(n.vpc.value), n.vpc.span)
        gateways = []
        for e in n.endpoints:
            if e.service.text not in KNOWN_ENDPOINT_SERVICES:
                self.err("E303", f"unknown endpoint service `{e.service.text}`", e.service.span,
                         did_you_mean(e.service.text, KNOWN_ENDPOINT_SERVICES)
                         or "services: " + ", ".join(KNOWN_ENDPOINT_SERVICES))
                ok = False
            ok &= self.value(values.vpce(e.id.value), e.id.span)
            kind = netcheck.endpoint_type(self, e)
            ok &= kind is not None
            if kind == netcheck.GATEWAY:
                gateways.append(e.id.value)
            if e.region is not None:
                ok &= netcheck.service_region(self, e, kind, dep.regions)
        for c in n.cidrs:
            ok &= self.value(values.public_cidr(c.value), c.span, "E304")
        for sn in n.subnets:
            ok &= self.value(values.subnet(sn.value), sn.span)
        for sg in n.security_groups:
            ok &= self.value(values.security_group(sg.value), sg.span)
        mode = self.mode(n.endpoint_policies, "endpoint_policies", ENDPOINT_POLICY_MODES, "E327")
        ok &= mode is not None
        if not n.endpoints and not n.cidrs:
            self.err("E305", f"network `{n.name.text}` has no endpoint and no cidr", n.name.span,
                     'a network is entered through its VPC endpoints (endpoint s3 "vpce-...") or from public ranges (cidr "...")')
            ok = False
        region = None
        if n.vpc or n.endpoints or n.region:  # a VPC is regional; public ranges alone need no region
            region = self.single_region(n.region, dep, f"network `{n.name.text}`", n.name.span)
            ok &= region is not None
        reach = netcheck.clients(self, n)
        ok &= reach is not None
        netcheck.placement(self, n, [e.id.value for e in n.endpoints if e.id.value not in gateways])
        if not ok:
            return None
        return Network(n.name.text, acct, n.vpc.value if n.vpc else None,
                       tuple((e.service.text, e.id.value) for e in n.endpoints),
                       tuple(c.value for c in n.cidrs), tuple(x.value for x in n.subnets),
                       tuple(x.value for x in n.security_groups), mode, region, reach, tuple(gateways),
                       tuple((e.id.value, e.region.value) for e in n.endpoints
                             if e.region is not None and e.region.value != region))

    def role(self, r: ast.Role, dep: Deployment) -> Principal | None:
        parsed = values.role_arn(r.arn.value)
        if parsed is None:
            msg, hint = values.role_arn_problem(r.arn.value)
            self.err("E306", msg, r.arn.span, hint)
            return None
        part, acct = parsed
        if part != dep.partition:
            self.err("E307", f'role `{r.name.text}` is in partition "{part}", the deployment in "{dep.partition}"',
                     r.arn.span, "a role can only be granted access within its partition")
            return None
        return Principal(r.name.text, r.arn.value, acct)

    def key(self, k: ast.Key, dep: Deployment) -> Key | None:
        parsed = values.key_arn(k.arn.value)
        if parsed is None:
            self.err("E308", f'"{k.arn.value}" is not a KMS key ARN', k.arn.span,
                     'a key ARN looks like "arn:aws:kms:eu-central-1:111122223333:key/<uuid>"')
            return None
        part, reg, acct, key_id = parsed
        ok = True
        if part != dep.partition:
            self.err("E307", f'key `{k.name.text}` is in partition "{part}", the deployment in "{dep.partition}"',
                     k.arn.span, "use a key of the deployment's partition")
            ok = False
        elif reg not in dep.regions:
            self.err("E309", f'key `{k.name.text}` is in region "{reg}", which the deployment does not allow',
                     k.arn.span, "allowed regions: " + ", ".join(dep.regions))
            ok = False
        if acct != dep.account:
            self.err("E310", f"key `{k.name.text}` is in account {acct}, not the deployment's account {dep.account}",
                     k.arn.span, "slpc writes the key policy, so the key must live in the deployment account")
            ok = False
        if key_id.startswith("mrk-"):
            self.warn("W311", f"key `{k.name.text}` is a multi-Region key", k.arn.span,
                      "its replicas can decrypt model data in other regions; prefer a single-Region key")
        admins = self.principals(k.admins, f"admin of key `{k.name.text}`", dep.account)
        if not k.admins:
            self.err("E404", f"key `{k.name.text}` has no admins", k.name.span,
                     "the key policy names no IAM root, so without admins nobody could ever manage the key: "
                     "add `admins [ROLE]`")
            ok = False
        mode = self.mode(k.key_policy, "key_policy", KEY_POLICY_MODES, "E328")
        ok &= mode is not None
        if admins is None or not ok:
            return None
        return Key(k.name.text, k.arn.value, acct, reg, admins, mode)

    def principals(self, names: tuple[ast.Name, ...], role_word: str, account: str) -> tuple[str, ...] | None:
        """Admins and breakglass roles: declared roles of the resource's own account."""
        ok = True
        for n in names:
            target = self.decls.get(n.text)
            if not isinstance(target, ast.Role):
                self.unknown(n, ast.Role, "role", role_word)
                ok = False
            elif (parsed := values.role_arn(target.arn.value)) and parsed[1] != account:
                self.err("E406", f"`{n.text}` is in account {parsed[1]} and cannot be {role_word}", n.span,
                         f"duties stay in the resource's account ({account}); declare a role there")
                ok = False
        return tuple(dict.fromkeys(n.text for n in names)) if ok else None

    def unknown(self, name: ast.Name, kind, word: str, context: str) -> None:
        target = self.decls.get(name.text)
        candidates = [k for k, d in self.decls.items() if isinstance(d, kind if isinstance(kind, tuple) else (kind,))]
        if target is not None:
            self.err("E203", f"`{name.text}` is not a {word}", name.span,
                     f"the {context} must be a {word}; `{name.text}` is declared at line {target.span.line}")
        else:
            self.err("E201", f"unknown {word} `{name.text}`", name.span,
                     did_you_mean(name.text, candidates) or (f"declared {word}s: " + ", ".join(sorted(candidates))
                                                             if candidates else f"declare the {word} first"))

    def no_admins(self, admins: tuple[ast.Name, ...], name: ast.Name, kind: str) -> None:
        if not admins:
            self.warn("W333", f"{kind} `{name.text}` has no admins", name.span,
                      "its policy denies policy changes to everyone; only the account root can recover it")

    def single_region(self, given: ast.Str | None, dep: Deployment, what: str, span: Span) -> str | None:
        if given is not None:
            if given.value not in dep.regions:
                self.err("E309", f'{what} is in region "{given.value}", which the deployment does not allow',
                         given.span, "allowed regions: " + ", ".join(dep.regions))
                return None
            return given.value
        if len(dep.regions) == 1:
            return dep.regions[0]
        self.err("E312", f"{what} needs a `region`", span,
                 "the deployment has several regions: add `region \"...\"` to the block")
        return None

    def bucket(self, b: ast.Bucket, dep: Deployment, keys: dict[str, Key]) -> Asset | None:
        ok = self.value(values.bucket_name(b.bucket.value), b.bucket.span)
        key = None
        if b.encrypt is None:
            self.err("E313", f"bucket `{b.name.text}` has no `encrypt` key", b.name.span,
                     "model data is encrypted with a customer-managed key: add `encrypt KEY`")
            ok = False
        elif not isinstance(self.decls.get(b.encrypt.text), ast.Key):
            self.unknown(b.encrypt, ast.Key, "key", f"key of bucket `{b.name.text}`")
            ok = False
        elif b.encrypt.text in keys:
            key = b.encrypt.text
        else:
            ok = False  # the key itself is in error, already reported
        lock = None
        if b.object_lock:
            mode, days = b.object_lock.mode.text, b.object_lock.days
            if mode not in LOCK_MODES:
                self.err("E314", f"unknown Object Lock mode `{mode}`", b.object_lock.mode.span,
                         did_you_mean(mode, LOCK_MODES) or "modes: governance, compliance")
                ok = False
            if not 1 <= days <= MAX_LOCK_DAYS:
                self.err("E315", f"an Object Lock period of {days} days", b.object_lock.span,
                         f"the period is 1 to {MAX_LOCK_DAYS} days")
                ok = False
            if mode == "compliance":
                self.warn("W316", f"bucket `{b.name.text}` uses a compliance lock", b.object_lock.span,
                          f"nobody, the account root included, can delete or shorten it for {days} days")
            lock = (mode, days)
        for a in b.audit:
            if a.text not in AUDIT_KINDS:
                self.err("E317", f"unknown audit kind `{a.text}`", a.span,
                         did_you_mean(a.text, AUDIT_KINDS) or "audit kinds: " + ", ".join(AUDIT_KINDS))
                ok = False
        admins = self.principals(b.admins, f"admin of bucket `{b.name.text}`", dep.account)
        breakglass = self.principals(b.breakglass, f"breakglass of bucket `{b.name.text}`", dep.account)
        for n in b.breakglass:
            if any(a.text == n.text for a in b.admins):
                self.warn("W409", f"`{n.text}` is both admin and breakglass of bucket `{b.name.text}`", n.span,
                          "an admin can rewrite the bucket policy; keep emergency deletion with a separate role")
        self.no_admins(b.admins, b.name, "bucket")
        age_ms = DEFAULT_SIGNATURE_AGE_MS
        if b.signature_age:
            unit = b.signature_age.unit.text
            if unit not in values.TIME_UNITS_MS:
                self.err("E323", f"unknown unit `{unit}`", b.signature_age.unit.span,
                         did_you_mean(unit, values.TIME_UNITS_MS) or "units: seconds, minutes, hours")
                ok = False
            else:
                age_ms = b.signature_age.amount * values.TIME_UNITS_MS[unit]
                if not 1000 <= age_ms <= MAX_SIGNATURE_AGE_MS:
                    self.err("E324", "a signature age must be between 1 second and 7 days", b.signature_age.span,
                             "presigned URLs cannot live longer than 7 days")
                    ok = False
        mode = self.mode(b.access_points, "access_points", ACCESS_POINT_MODES, "E326")
        ok &= mode is not None
        if admins is None or breakglass is None or not ok:
            return None
        arn = f"arn:{dep.partition}:s3:::{b.bucket.value}"
        return Asset("bucket", b.name.text, b.bucket.value, arn, dep.account, keys[key].region,
                     admins, key=key, object_lock=lock, audit=tuple(a.text for a in b.audit),
                     breakglass=breakglass, signature_age_ms=age_ms, access_points=mode)

    def repository(self, r: ast.Repository, dep: Deployment) -> Asset | None:
        ok = self.value(values.repository_name(r.repository.value), r.repository.span)
        reg = self.single_region(r.region, dep, f"repository `{r.name.text}`", r.name.span)
        admins = self.principals(r.admins, f"admin of repository `{r.name.text}`", dep.account)
        self.no_admins(r.admins, r.name, "repository")
        if not ok or reg is None or admins is None:
            return None
        arn = f"arn:{dep.partition}:ecr:{reg}:{dep.account}:repository/{r.repository.value}"
        return Asset("repository", r.name.text, r.repository.value, arn, dep.account, reg, admins)

    def endpoint(self, e: ast.Endpoint, dep: Deployment) -> Asset | None:
        if (e.sagemaker is None) == (e.apigateway is None):
            self.err("E320", f"endpoint `{e.name.text}` must name exactly one of `sagemaker` or `apigateway`",
                     e.name.span, 'write `sagemaker "ENDPOINT-NAME"` or `apigateway "API_ID"` with `stage "STAGE"`')
            return None
        if e.apigateway is not None and e.stage is None:
            self.err("E321", f"endpoint `{e.name.text}` needs a `stage`", e.name.span,
                     'a private API is granted per stage: add `stage "prod"`')
            return None
        if e.sagemaker is not None and e.stage is not None:
            self.err("E321", "`stage` belongs to API Gateway endpoints", e.stage.span, "remove it")
            return None
        if e.sagemaker is not None:
            ok = self.value(values.sagemaker_endpoint(e.sagemaker.value), e.sagemaker.span)
        else:
            ok = self.value(values.api_id(e.apigateway.value), e.apigateway.span)
            ok &= self.value(values.stage(e.stage.value), e.stage.span)
        reg = self.single_region(e.region, dep, f"endpoint `{e.name.text}`", e.name.span)
        if not ok or reg is None:
            return None
        if e.apigateway is not None:
            arn = f"arn:{dep.partition}:execute-api:{reg}:{dep.account}:{e.apigateway.value}/{e.stage.value}"
            return Asset("api", e.name.text, e.apigateway.value, arn, dep.account, reg)
        # SageMaker stores endpoint names in lower case in its ARNs.
        arn = f"arn:{dep.partition}:sagemaker:{reg}:{dep.account}:endpoint/{e.sagemaker.value.lower()}"
        return Asset("endpoint", e.name.text, e.sagemaker.value, arn, dep.account, reg)

    # -- grants ------------------------------------------------------------- #
    def grant(self, a: ast.Allow, model_parts: dict) -> Grant | None:
        principals, assets, networks = model_parts["principals"], model_parts["assets"], model_parts["networks"]
        ok = True
        if not isinstance(self.decls.get(a.principal.text), ast.Role):
            self.unknown(a.principal, ast.Role, "role", "principal of a grant")
            ok = False
        asset_decl = self.decls.get(a.asset.text)
        kind = {ast.Bucket: "bucket", ast.Repository: "repository", ast.Endpoint: "endpoint"}.get(type(asset_decl))
        if isinstance(asset_decl, ast.Endpoint) and asset_decl.apigateway is not None:
            kind = "api"
        if kind is None:
            self.unknown(a.asset, (ast.Bucket, ast.Repository, ast.Endpoint), "asset", "target of a grant")
            ok = False
        elif (kind, a.verb.text) not in VERBS:
            all_verbs = sorted({v for (_, v) in VERBS})
            if a.verb.text in all_verbs:
                self.err("E401", f"`{a.verb.text}` does not apply to {kind} `{a.asset.text}`", a.verb.span,
                         f"{kind} verbs: " + ", ".join(verbs_for(kind)))
            else:
                self.err("E204", f"unknown verb `{a.verb.text}`", a.verb.span,
                         did_you_mean(a.verb.text, verbs_for(kind)) or f"{kind} verbs: " + ", ".join(verbs_for(kind)))
            ok = False
        if kind == "endpoint" and a.principal.text in principals and principals[a.principal.text].account != \
                model_parts["account"]:
            self.err("E407", f"`{a.principal.text}` is in another account and cannot invoke endpoint `{a.asset.text}`",
                     a.principal.span, "SageMaker endpoints have no resource policy, so only roles of their own "
                     "account can be allowed; grant a role there that the caller may assume")
            ok = False
        prefix = ""
        if a.prefix is not None:
            if kind == "api":
                prefix = self.route(a.prefix)
                ok = ok and prefix is not None
            elif kind not in (None, "bucket"):
                self.err("E402", f"a prefix or route only applies to buckets and API stages; `{a.asset.text}` "
                         f"is a {kind}", a.prefix.span, "remove the prefix")
                ok = False
            elif self.value(values.prefix(a.prefix.value), a.prefix.span, "E318"):
                prefix = a.prefix.value
                if prefix and not prefix.endswith("/"):
                    self.warn("W319", f'prefix "{prefix}" does not end with `/`', a.prefix.span,
                              f'it also covers keys such as "{prefix}-old/..."; end it with `/` to grant one folder')
            else:
                ok = False
        for n in a.networks:
            if not isinstance(self.decls.get(n.text), ast.Network):
                self.unknown(n, ast.Network, "network", "place a grant is used from")
                ok = False
            elif kind is not None and n.text in networks:
                net = networks[n.text]
                have = {svc for svc, _ in net.endpoints}
                need = ASSET_SERVICES[kind]
                touches = have & set(ASSET_SERVICES[kind])
                public = bool(net.cidrs) and reachable_from_cidrs(ASSET_SERVICES[kind])
                if not public and not touches:
                    self.err("E403", f"network `{n.text}` has no {' or '.join(need)} endpoint for {kind} `{a.asset.text}`",
                             n.span, f"add `endpoint {need[0]} \"vpce-...\"` to network `{n.text}`, or grant from another network")
                    ok = False
                elif kind == "bucket" and a.asset.text in assets and net.gateway_for("s3") \
                        and assets[a.asset.text].region != net.region:
                    self.err("E441", f"bucket `{a.asset.text}` is in {assets[a.asset.text].region}, and network "
                             f"`{n.text}` reaches S3 through a gateway endpoint in {net.region}", n.span,
                             "an S3 gateway endpoint reaches only buckets of its own region: grant from a network "
                             "of the bucket's region")
                    ok = False
                elif a.asset.text in assets and not netcheck.other_region(
                        self, n.span, net, a.asset.text, kind, assets[a.asset.text].region, need):
                    ok = False
                elif touches and not set(need) <= have:
                    missing = [s for s in need if s not in have]
                    self.err("E403", f"network `{n.text}` lacks the {', '.join(missing)} endpoint a {kind} needs",
                             n.span, f"a {kind} is reached through {' and '.join(need)}; add the missing endpoint")
                    ok = False
        if len(set(n.text for n in a.networks)) != len(a.networks):
            self.warn("W320", "a network is named twice in this grant", a.span)
        until = None
        if a.until is not None:
            until, problem = values.instant(a.until.value)
            if problem:
                self.err("E319", problem[0], a.until.span, problem[1])
                ok = False
            elif datetime.fromisoformat(until.replace("Z", "+00:00")) <= self.now:
                self.warn("W321", f"this grant ended at {until}", a.until.span,
                          "it grants nothing any more; remove it or move `until` forward")
        if not ok or a.principal.text not in principals or a.asset.text not in assets:
            return None
        if any(n.text not in networks for n in a.networks):
            return None
        return Grant(a.principal.text, a.verb.text, a.asset.text, prefix,
                     tuple(dict.fromkeys(n.text for n in a.networks)), until, a.span, a.principal.span)

    def route(self, node) -> str | None:
        """The canonical route of an `invoke` grant on an API stage, or None after an error."""
        found = routes.problem(node.value)
        if found is None:
            return routes.canonical(node.value)
        code, message, hint = found
        if code == "E340":
            hint = did_you_mean(node.value.partition(" ")[0].upper(), routes.METHODS + (routes.ANY,)) or hint
        self.err(code, message, node.span, hint)
        return None

    def nested(self, grants: list[Grant], assets: dict[str, Asset]) -> None:
        """A resource policy cannot tell "under a/ but not a/b/" apart, so one principal's
        grants on nested prefixes must agree on networks and expiry to be enforced exactly."""
        earlier: dict[tuple[str, str], list[Grant]] = {}  # (principal, asset) -> its grants so far
        for g in grants:
            pairs = earlier.setdefault((g.principal, g.asset), [])
            pairs.append(g)
            for h in pairs[:-1]:
                if g.prefix == h.prefix:
                    continue
                kind = assets[g.asset].kind
                if kind == "api":
                    if routes.overlap(g.prefix, h.prefix) and (g.networks, g.until) != (h.networks, h.until):
                        self.err("E344", f"`{g.principal}` has grants on overlapping routes \"{h.prefix or 'ANY /*'}\" "
                                 f"and \"{g.prefix or 'ANY /*'}\" of `{g.asset}` with different networks or expiry",
                                 g.span, f"the grant at line {h.span.line} covers some of these requests too; give "
                                 "both the same `from` and `until`, or use routes no request shares")
                    continue
                if not (g.prefix.startswith(h.prefix) or h.prefix.startswith(g.prefix)):
                    continue
                shared = _resource_actions(kind, g.verb) & _resource_actions(kind, h.verb)
                if shared and (g.networks, g.until) != (h.networks, h.until):
                    self.err("E408", f"`{g.principal}` has grants on nested prefixes \"{h.prefix}\" and "
                             f"\"{g.prefix}\" of `{g.asset}` with different networks or expiry", g.span,
                             f"the grant at line {h.span.line} covers these keys too; give both the same `from` "
                             "and `until`, or use prefixes that do not contain each other")

    def duties(self, grants: list[Grant], assets: dict[str, Asset], keys: dict[str, Key]) -> None:
        """Admins manage but never touch data: a grant to an admin of the asset or its key is refused."""
        for g in grants:
            asset = assets[g.asset]
            conflicts = []
            if g.principal in asset.admins:
                conflicts.append(f"an admin of {asset.kind} `{asset.name}`")
            if asset.key and g.principal in keys[asset.key].admins:
                conflicts.append(f"an admin of key `{asset.key}`, which encrypts it")
            for c in conflicts:
                self.err("E405", f"`{g.principal}` is {c}, and cannot also be granted `{g.verb}`", g.principal_span,
                         "admins manage configuration and never use data: grant a separate role")


def _resource_actions(kind: str, verb: str) -> set[str]:
    return {a for a, scope in VERBS[(kind, verb)].actions if scope not in (KEY_VIA_S3, ACCOUNT)}


def check(specs: Sequence[ast.Spec], now: datetime | None = None) -> CheckResult:
    """Resolve and check one deployment spread over one or more parsed files."""
    c = _Checker(now or datetime.now(timezone.utc))
    dep_decl = c.collect(specs)
    dep = c.deployment(dep_decl) if dep_decl else None
    if dep is None:
        return CheckResult(None, c.diags)
    networks, principals, keys, assets = {}, {}, {}, {}
    for name, d in sorted(c.decls.items()):
        if isinstance(d, ast.Network) and (n := c.network(d, dep)):
            networks[name] = n
        elif isinstance(d, ast.Role) and (p := c.role(d, dep)):
            principals[name] = p
        elif isinstance(d, ast.Key) and (k := c.key(d, dep)):
            keys[name] = k
    netcheck.foreign_groups(c, [d for d in c.decls.values() if isinstance(d, ast.Network)])
    dep = replace(dep, flow_logs=netcheck.flow_logs(c, dep_decl, dep.account, networks, keys))
    _trust(c, dep, networks, principals)
    _warn_shared_endpoints(c, specs)
    for name, d in sorted(c.decls.items()):
        asset = None
        if isinstance(d, ast.Bucket):
            asset = c.bucket(d, dep, keys)
        elif isinstance(d, ast.Repository):
            asset = c.repository(d, dep)
        elif isinstance(d, ast.Endpoint):
            asset = c.endpoint(d, dep)
        if asset:
            assets[name] = asset
    _refuse_aliases(c, principals, keys, assets)
    authorizers.resolve(c, dep, networks, assets)
    parts = {"principals": principals, "assets": assets, "networks": networks, "account": dep.account}
    grants: list[Grant] = []
    seen: dict[Grant, Grant] = {}
    for spec in specs:
        for d in spec.declarations:
            if isinstance(d, ast.Allow) and (g := c.grant(d, parts)):
                if g in seen:
                    c.warn("W322", "this grant repeats an earlier one", g.span,
                           f"the same grant is at line {seen[g].span.line}; remove one")
                    continue
                seen[g] = g
                grants.append(g)
    c.duties(grants, assets, keys)
    integrations.resolve(c, dep.account, principals, assets, grants, keys)
    authorizers.no_role_grants(c, grants, assets)
    _inherited_duties(c, principals, grants, assets, keys)
    c.nested(grants, assets)
    for k in keys.values():
        if not any(a.key == k.name for a in assets.values()) and not (dep.flow_logs and dep.flow_logs.key == k.name):
            c.warn("W323", f"key `{k.name}` encrypts no bucket", c.decls[k.name].name.span,
                   "its policy will let only its admins manage it")
    if any(d.is_error for d in c.diags):
        return CheckResult(None, c.diags)
    model = Model(dep, networks, principals, keys, assets, tuple(grants))
    return CheckResult(model, c.diags)


def _trust(c: _Checker, dep: Deployment, networks: dict, principals: dict) -> None:
    """Give each role who may obtain it; drop the roles whose trust is in error."""
    accounts = {dep.account} | {n.account for n in networks.values()} | {p.account for p in principals.values()}
    checker = TrustChecker(c, accounts)
    for name in list(principals):
        p = checker.role(c.decls[name], principals[name])
        if p is None:
            del principals[name]
        else:
            principals[name] = p
    for p in principals.values():
        for w in p.trust or ():
            via = principals.get(w.subject) if w.via == ROLE else None
            if via is None:
                continue
            if via.trust is None or any(v.via == "account" for v in via.trust):
                how = "does not say who may obtain it" if via.trust is None else "trusts a whole account"
                c.warn("W433", f"role `{p.name}` is obtained through role `{via.name}`, which {how}",
                       c.decls[p.name].name.span,
                       f"whoever can become `{via.name}` can become `{p.name}`: declare `{via.name}`'s trust "
                       "as narrowly as this role's")


def _inherited_duties(c: _Checker, principals: dict, grants: list[Grant], assets: dict, keys: dict) -> None:
    """Whoever may pass or assume a role uses its grants: an admin who may is an admin
    who touches data (E405's rule, one step removed)."""
    by_role: dict[str, list[Grant]] = {}
    for g in grants:
        by_role.setdefault(g.principal, []).append(g)
    for p in principals.values():
        others = {x for x, _ in p.passers} | {w.subject for w in p.trust or () if w.via == ROLE}
        for x in sorted(others):
            for g in by_role.get(p.name, ()):
                asset = assets[g.asset]
                if x in asset.admins or (asset.key and x in keys[asset.key].admins):
                    c.warn("W437", f"`{x}` administers {asset.kind} `{asset.name}` and may also become `{p.name}`, "
                           f"which is granted `{g.verb}` on it", c.decls[p.name].name.span,
                           f"through `{p.name}` an admin touches data: let another role pass or assume it")
                    break


def _refuse_aliases(c: _Checker, principals: dict, keys: dict, assets: dict) -> None:
    """Two names for one AWS resource would split its policy in two; refuse them."""
    seen: dict[str, str] = {}
    things = [(p.name, p.arn) for p in principals.values()] + [(k.name, k.arn) for k in keys.values()]
    things += [(a.name, a.arn) for a in assets.values()]
    at = lambda t: (c.decls[t[0]].span.file, c.decls[t[0]].span.line)
    for name, arn in sorted(things, key=at):  # report the later declaration
        if arn in seen:
            first = c.decls[seen[arn]].name.span
            c.err("E205", f"`{name}` names the same AWS resource as `{seen[arn]}`", c.decls[name].name.span,
                  f"both are {arn} (`{seen[arn]}` is at line {first.line}); keep one declaration")
        else:
            seen[arn] = name


def _warn_shared_endpoints(c: _Checker, specs: Sequence[ast.Spec]) -> None:
    owner: dict[str, str] = {}
    for spec in specs:
        for d in spec.declarations:
            if isinstance(d, ast.Network):
                for e in d.endpoints:
                    if e.id.value in owner and owner[e.id.value] != d.name.text:
                        c.warn("W324", f'endpoint "{e.id.value}" is also in network `{owner[e.id.value]}`', e.id.span,
                               "a request through it counts as coming from both networks")
                    owner.setdefault(e.id.value, d.name.text)
