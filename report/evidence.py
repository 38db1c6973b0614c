"""The evidence: everything the report shows, as plain JSON-ready data.

Built from the checked Model, the spec's meaning (`slpc.verify.meaning`) and the
built artifacts; the renderers (Markdown, HTML) only lay it out, so evidence.json,
report.md and report.html always say the same thing.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone
from typing import Sequence

from slpc import __version__
from slpc.compiler import routes
from slpc.compiler import verbs as V
from slpc.compiler import trust as T
from slpc.compiler.model import Grant, Model, Way
from slpc.compiler import security_groups as G
from slpc.policy.kinds import LINT_TYPES
from slpc.targets import security_groups as SG
from slpc.targets.manifest import MANIFEST_VERSION, manifest
from slpc.verify import catalogue
from slpc.verify.lint import FindingType, lint
from slpc.verify.meaning import Meaning, Question

from . import controls as C
from . import proof as proofs
from . import validation as live

# 2: proof results (`proof`, per-control proof properties); 3: `coarser` layers; 4: `becoming`;
# 5: networks' region, clients, subnets, declared groups and the security groups slpc writes; each
# endpoint's type and the region whose service it reaches
EVIDENCE_VERSION = 5
_OUTSIDE_IP = "192.0.2.77"  # TEST-NET-1: outside every network unless a spec declares it

def _rule(model: Model, network: str, role: str, r: G.Rule) -> dict:
    """One rule of a group slpc writes: what it admits, in fields and in words."""
    ports = "all traffic" if r.protocol == G.ALL else f"{r.protocol.upper()} " + (
        str(r.from_port) if r.from_port == r.to_port else f"{r.from_port}-{r.to_port}")
    if r.peer_kind == G.OWN_GROUP:
        peer = ("members of this group" if r.peer == role
                else f"slpc's {r.peer} group {G.group_name(model, network, r.peer)}")
    else:
        peer = {G.CIDR: "range {}", G.GROUP_ID: "security group {}",
                G.PREFIX_LIST: "the S3 gateway endpoint (prefix list {})"}[r.peer_kind].format(r.peer)
    words = f"in: {ports} from {peer}" if r.direction == G.INGRESS else f"out: {ports} to {peer}"
    return {"direction": r.direction, "protocol": r.protocol, "from_port": r.from_port, "to_port": r.to_port,
            "peer_kind": r.peer_kind, "peer": r.peer, "text": words}


def security_groups(model: Model, artifacts: Sequence) -> dict[str, list[dict]]:
    """The security groups slpc writes, per network, read back from their artifacts
    (what the report shows is what was written): each group's name, artifact, what it
    is attached to or used by, and its rules."""
    out: dict[str, list[dict]] = {}
    for art in sorted((a for a in artifacts if a.kind in SG.ROLE), key=lambda a: a.path):
        s = art.settings
        out.setdefault(art.name, []).append({
            "role": SG.ROLE[art.kind], "name": s["GroupName"], "artifact": art.path,
            "attached_to": list(s.get("AttachTo", {}).get("VpcEndpointIds", [])),
            "used_by": s.get("UsedBy"),
            "rules": [_rule(model, art.name, SG.ROLE[art.kind], r)
                      for r in sorted(SG.rules_of(model, art), key=lambda r: (r.direction != G.INGRESS, r))]})
    return out


def _glance(model: Model, artifacts: Sequence) -> dict:
    d = model.deployment
    groups = security_groups(model, artifacts)
    accounts = {d.account} | {n.account for n in model.networks.values()} | {
        p.account for p in model.principals.values()} | {a.account for a in model.assets.values()} | {
        k.account for k in model.keys.values()}
    return {
        "deployment": {"name": d.name, "partition": d.partition, "account": d.account, "org": d.org,
                       "regions": list(d.regions), "guardrails": list(d.guardrails)},
        "accounts": sorted(accounts),
        "networks": [{"name": n.name, "account": n.account, "vpc": n.vpc, "region": n.region,
                      "cidrs": list(n.cidrs),
                      "endpoints": [{"service": s, "id": i, "type": "gateway" if i in n.gateways else "interface",
                                     "region": n.service_region(i)} for s, i in n.endpoints],
                      "clients": list(n.clients), "subnets": list(n.subnets),
                      "security_groups": list(n.security_groups), "slpc_security_groups": groups.get(n.name, [])}
                     for n in model.networks.values()],
        "principals": [{"name": p.name, "arn": p.arn, "account": p.account} for p in model.principals.values()],
        "keys": [{"name": k.name, "arn": k.arn, "account": k.account, "region": k.region, "admins": list(k.admins)}
                 for k in model.keys.values()],
        "assets": [{"name": a.name, "kind": a.kind, "resource_name": a.resource_name, "arn": a.arn,
                    "account": a.account, "region": a.region, "key": a.key, "admins": list(a.admins),
                    "breakglass": list(a.breakglass), "audit": list(a.audit),
                    "object_lock": {"mode": a.object_lock[0], "days": a.object_lock[1]} if a.object_lock else None}
                   for a in model.assets.values()],
    }


# -- who may become each role ------------------------------------------------ #
def _way(model: Model, w: Way) -> str:
    """One way to obtain a role, in words an auditor reads."""
    q = dict(w.qualifiers)
    if w.via == T.SERVICE:
        return f"the {w.subject} service ({T.TRUSTED_SERVICES[w.subject].runs})"
    if w.via == T.EKS_POD:
        return f"EKS pods of service account {q['namespace']}/{q['service_account']} on cluster {w.subject}"
    if w.via == T.IRSA:
        return f"Kubernetes service account {q['namespace']}/{q['service_account']} through OIDC issuer {w.subject}"
    if w.via == T.GITHUB:
        (word, value), = w.qualifiers
        return f"GitHub Actions of {w.subject}, {word} {value}"
    if w.via == T.IDENTITY_CENTER:
        return f"people with IAM Identity Center permission set {w.subject}"
    if w.via == T.ROLE:
        return f"role {w.subject} (role chaining)"
    return f"any principal account {w.subject} allows"


def becoming(model: Model) -> list[dict]:
    """For each role: who may obtain its credentials, pass it to a service, change it."""
    return [{"role": p.name, "arn": p.arn, "declared": p.trust is not None,
             "ways": [_way(model, w) for w in p.trust or ()],
             "passed_by": [{"role": r, "service": s} for r, s in p.passers],
             "admins": list(p.admins), "session_seconds": p.session_s}
            for p in sorted(model.principals.values(), key=lambda p: p.name)]


# -- the access matrix, confirmed by the spec's meaning --------------------- #
def _shift(instant: str, seconds: int) -> str:
    t = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _where(model: Model, network: str, kind: str) -> dict | None:
    """A request context that comes from `network` for an asset of `kind`."""
    net = model.networks[network]
    ids = net.endpoint_ids(V.ASSET_SERVICES[kind])
    if ids:
        return {"aws:SourceVpce": ids[0]}
    if net.cidrs and V.reachable_from_cidrs(V.ASSET_SERVICES[kind]):
        return {"aws:SourceIp": str(ipaddress.ip_network(net.cidrs[0])[0])}
    return None


def _inside(model: Model, g: Grant) -> list[tuple[str, str, dict]]:
    """(action, resource, extra context) for each action of the grant's verb, on
    the asset within the grant's prefix, through the grantee's access point on a bucket
    reached through them (key-via-S3 actions are left to the tests: they depend on S3
    calling KMS). `model` has every bucket's addressing resolved (`Meaning.m`)."""
    asset = model.assets[g.asset]
    ap = model.access_points(asset.name).get(g.principal) if asset.kind == "bucket" else None
    objects, itself = (f"{ap.arn}/object", ap.arn) if ap else (asset.arn, asset.arn)
    out = []
    for action, scope in V.VERBS[(asset.kind, g.verb)].actions:
        if scope == V.KEY_VIA_S3:
            continue
        if scope == V.OBJECT:
            out.append((action, f"{objects}/{g.prefix}evidence", {}))
        elif scope == V.BUCKET_PREFIX:
            out.append((action, itself, {"s3:prefix": g.prefix} if g.prefix else {}))
        elif scope == V.API:
            start, whole = routes.matches(g.prefix or "GET /*")[0]  # on the grant's route
            out.append((action, f"{asset.arn}/{start}{'' if whole else 'evidence'}", {}))
        elif scope == V.ACCOUNT:
            out.append((action, "*", {}))
        else:
            out.append((action, itself, {}))
    return out


def _confirmed(meaning: Meaning, model: Model, grants: Sequence[Grant], when: str) -> bool:
    """Whether the spec's meaning agrees with one cell (a principal's grants on an
    asset): every action of each grant is permitted from each of its networks before
    its expiry; nothing is permitted from outside every network, nor once every
    grant of the cell has expired."""
    principal = model.principals[grants[0].principal].arn
    outside = {"aws:SourceIp": _OUTSIDE_IP}
    outside_ok = not any(ipaddress.ip_address(_OUTSIDE_IP) in ipaddress.ip_network(c)
                         for n in model.networks.values() for c in n.cidrs)
    last = None if any(g.until is None for g in grants) else _shift(max(g.until for g in grants), 1)
    asset = model.assets[grants[0].asset]
    # actions the principal also holds by duty, without expiry (listed in the inverse view)
    duty = V.S3_BREAKGLASS_ACTIONS if grants[0].principal in asset.breakglass else ()
    for g in grants:
        nets = [_where(model, n, asset.kind) for n in g.networks]
        if any(w is None for w in nets):
            return False
        at = _shift(g.until, -1) if g.until else when
        for action, resource, extra in _inside(meaning.m, g):
            def ask(ctx: dict, now: str) -> bool:
                context = {"aws:SecureTransport": "true", "aws:CurrentTime": now, **extra, **ctx}
                return meaning.permits(Question(principal, action, resource, context))

            if not all(ask(w, at) for w in nets):
                return False
            if last and resource != "*" and action not in duty and any(ask(w, last) for w in nets):
                return False  # (an account-wide action such as the ECR token may come from another grant)
            if outside_ok and ask(outside, at):
                return False
    return True


def access_matrix(model: Model, when: str) -> list[dict]:
    """One cell per (principal, asset) that some grant connects, in declaration
    order, each confirmed against the spec's meaning at instant `when`."""
    meaning = Meaning(model)
    cells: dict[tuple[str, str], list[Grant]] = {}
    for g in model.grants:
        cells.setdefault((g.principal, g.asset), []).append(g)
    order_p, order_a = list(model.principals), list(model.assets)
    out = []
    for (p, a), grants in sorted(cells.items(), key=lambda kv: (order_p.index(kv[0][0]), order_a.index(kv[0][1]))):
        kind = model.assets[a].kind
        ok = _confirmed(meaning, model, grants, when)
        out.append({"principal": p, "asset": a, "meaning_confirms": ok, "grants": [
            {"verb": g.verb, "prefix": g.prefix, "networks": list(g.networks), "until": g.until,
             "ended": g.until is not None and g.until <= when,  # both normalised UTC, so text order is time order
             "actions": sorted({x for x, _ in V.VERBS[(kind, g.verb)].actions})} for g in grants]})
    return out


def _by_asset(model: Model, matrix: list[dict]) -> list[dict]:
    """The inverse view: for each asset (and key), who can touch it, from where, until when."""
    out = []
    for a in model.assets.values():
        access = [{"principal": c["principal"], **{k: g[k] for k in ("verb", "prefix", "networks", "until")}}
                  for c in matrix if c["asset"] == a.name for g in c["grants"]]
        duties = [{"principal": p, "duty": "administer",
                   "detail": "manage the configuration; no access to the data"} for p in a.admins]
        duties += [{"principal": p, "duty": "breakglass",
                    "detail": "bypass governance retention and delete object versions"} for p in a.breakglass]
        entry = {"asset": a.name, "kind": a.kind, "arn": a.arn, "access": access, "duties": duties}
        if a.kind == "api":
            entry["authorization"] = _authorization(a)
        callers = _callers(model, a)
        if callers:
            entry["callers"] = callers
        out.append(entry)
    for k in model.keys.values():
        access = [{"principal": g.principal, "verb": g.verb, "prefix": g.prefix, "networks": list(g.networks),
                   "until": g.until, "via": g.asset}
                  for g in model.grants if model.assets[g.asset].key == k.name]
        duties = [{"principal": p, "duty": "administer", "detail": "manage the key; no cryptographic use"}
                  for p in k.admins]
        out.append({"asset": k.name, "kind": "key", "arn": k.arn, "access": access, "duties": duties})
    return out


def _authorization(stage) -> str:
    """Who an API stage's methods admit, in words: IAM roles, or a Cognito pool's users."""
    z = stage.authorizer
    if z is None:
        return "AWS_IAM: the roles granted invoke below, signing with their credentials"
    return f"Amazon Cognito user pool {z.pool_arn}: its users whose access token holds one of the scopes " \
           + ", ".join(z.scopes)


def _callers(model: Model, a) -> list[dict]:
    """Who reaches an asset other than by a grant to a role: a Cognito-authorized stage's pool
    users, and the integration roles API stages call a SageMaker endpoint as."""
    if a.kind == "api" and a.authorizer is not None:
        return [{"who": f"users of Cognito user pool {a.authorizer.pool_arn} with scopes "
                        + ", ".join(a.authorizer.scopes),
                 "how": "invoke every method of the stage", "networks": list(a.authorizer.networks)}]
    if a.kind == "endpoint":
        return [{"who": role, "how": "sagemaker:InvokeEndpoint as the integration credentials of API stage "
                 + ", ".join(s.name for s in model.assets_of("api") if s.backend == a.name and s.integration_role == role)
                 + ", from API Gateway's network", "networks": []}
                for role in model.integration_roles(a.name)]
    return []


# -- verification ----------------------------------------------------------- #
def _offline(artifacts: Sequence) -> dict[str, dict]:
    """The offline validator's verdict per artifact path (policies only)."""
    out = {}
    for art in artifacts:
        if art.kind not in LINT_TYPES:
            out[art.path] = {"status": "not-a-policy", "findings": []}
            continue
        found = [f for f in lint(art.text, *LINT_TYPES[art.kind]) if f.finding_type != FindingType.SUGGESTION]
        worst = "pass"
        if any(f.finding_type in (FindingType.ERROR, FindingType.SECURITY_WARNING) for f in found):
            worst = "fail"
        elif found:
            worst = "warnings"
        out[art.path] = {"status": worst, "findings": sorted(f"{f.finding_type.value} {f.issue_code}" for f in found)}
    return out


def _offline_summary(per_artifact: dict[str, dict], paths: list[str]) -> dict:
    policies = [p for p in paths if per_artifact[p]["status"] != "not-a-policy"]
    if not policies:
        return {"status": "not-applicable", "detail": "settings documents only (no policy to validate)"}
    bad = [p for p in policies if per_artifact[p]["status"] != "pass"]
    if bad:
        return {"status": "fail" if any(per_artifact[p]["status"] == "fail" for p in bad) else "warnings",
                "detail": f"{len(bad)} of {len(policies)} policies with findings: {', '.join(bad)}"}
    return {"status": "pass", "detail": f"{len(policies)} policies, no finding"}


def _controls(cat: C.Catalogue, artifacts: Sequence, offline: dict[str, dict], validation: dict | None,
              proof: dict | None) -> list[dict]:
    out = []
    for c in cat.controls:
        impl = C.implementation(c, artifacts)
        paths = [i["path"] for i in impl]
        out.append({
            "id": c.id, "title": c.title, "description": c.description,
            "frameworks": {fw: list(ids) for fw, ids in sorted(c.frameworks.items())},
            "implemented_by": impl,
            "verification": {
                "offline_validator": _offline_summary(offline, paths),
                "tests": {"status": "in-suite", "detail": "checked by slpc's test suite for this version "
                                                          "(not run by this command)", "tests": list(c.tests)},
                "proof": proofs.status(proof, c.proofs),
                "live": live.status(validation, paths) if paths else {
                    "status": "not-applicable", "detail": "no artifact in this deployment"},
            },
        })
    return out


def build(model: Model, artifacts: Sequence, sources: Sequence[tuple[str, bytes]], *,
          generated_at: str, timestamp_source: str = "given", validation: dict | None = None,
          proof: dict | None = None, catalogue_file=C.CATALOGUE_FILE) -> dict:
    """The evidence for one compiled deployment. `sources` are (name, bytes) as
    given; `generated_at` is an ISO 8601 UTC instant; `validation` is from
    `validation.load`; `proof` from `proof.load` or `proof.from_results` (of these sources)."""
    cat = C.load(catalogue_file)
    offline = _offline(artifacts)
    man = manifest(artifacts, sources)
    matrix = access_matrix(model, generated_at)
    if validation is not None:  # results that name artifacts this spec does not build: another spec's?
        named = {f["artifact"] for f in validation["findings"]} | set(validation["checked"]) | {
            s["artifact"] for s in validation["skipped"]}
        validation = {**validation, "foreign_artifacts": sorted(named - {a.path for a in artifacts})}
    return {
        "evidence_version": EVIDENCE_VERSION,
        "generated_at": generated_at,
        "timestamp_source": timestamp_source,
        **_glance(model, artifacts),
        "matrix": matrix,
        "by_asset": _by_asset(model, matrix),
        "becoming": becoming(model),
        "coarser": [{"artifact": a.path, "name": a.name, "kind": a.kind, "how": a.coarser}
                    for a in sorted(artifacts, key=lambda a: a.path) if a.coarser],
        "mapping": {"note": cat.note, "frameworks": {
            fw: {"title": f["title"], "clauses": dict(f["clauses"])} for fw, f in sorted(cat.frameworks.items())}},
        "controls": _controls(cat, artifacts, offline, validation, proof),
        "validation": validation,
        "proof": proof,
        "integrity": {
            "slpc_version": __version__, "catalogue_version": catalogue.VERSION,
            "manifest_version": MANIFEST_VERSION, "source_sha256": man["source_sha256"], "sources": man["sources"],
            "artifacts": [{**a, "offline_validator": offline[a["path"]]} for a in man["artifacts"]],
        },
    }


def timestamp(environ) -> tuple[str, str]:
    """(ISO 8601 UTC instant, where it came from): SOURCE_DATE_EPOCH when set, so a
    report can be rebuilt byte for byte; else the clock. ValueError if malformed."""
    raw = environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "clock"
    if not raw.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970")
    try:
        return datetime.fromtimestamp(int(raw), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "SOURCE_DATE_EPOCH"
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"SOURCE_DATE_EPOCH={raw!r} is out of range") from None
