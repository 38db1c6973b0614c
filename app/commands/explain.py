"""`slpc explain`: would AWS allow this request under the compiled spec, and why?

Compiles in memory, evaluates the request against the policies AWS would apply,
and sets the answer beside the spec's own meaning. They must agree; if they do
not, that is a bug in slpc and the exit code says so.

`--who-can-become ROLE` and `--could ROLE --become ROLE` ask the same of a role's
credentials: every hop into a role that some caller could take (a declared role
assuming it or passing it to a service, a web identity, an Identity Center
permission set, an account) is put to the evaluator as the requests AWS would see
(`Probe`), and the chains of allowed hops are set beside the chains
the spec's `assumed_by` and `passed_by` lines declare.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from slpc.compiler import trust as T
from slpc.policy.document import PolicyDocument, Statement, from_json
from slpc.targets.guardrails import spec_accounts
from slpc.verify.deployment import EXTRA_IDENTITY, FULL_ACCESS, Deployment
from slpc.verify.evaluate import Decision
from slpc.verify.meaning import ACCOUNT, ASSUME, IDENTITY_CENTER, PASS, WEB_IDENTITY, Hop, Meaning, Question

from .. import exits
from ..common import add_files, on_compiled
from ..formats import RESULTS, add_format
from ..io import IO
from ..pipeline import Compiled

NAME = "explain"
HELP = "would AWS allow a request under the compiled spec, and why"

# Defaults that make a request realistic unless the user overrides them.
DEFAULTS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p, "SPEC", "the spec files (one deployment)")
    p.add_argument("--principal", help='the caller: a role ARN, "anonymous", a service principal, or an '
                   "identity provider's ARN (web identity)")
    p.add_argument("--action", help="e.g. s3:GetObject")
    p.add_argument("--resource", help="the resource ARN (an S3 object ARN for object actions)")
    p.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                   help="a request context key, e.g. aws:SourceVpce=vpce-...; repeat a key for several values")
    p.add_argument("--identity-policy", action="append", default=[], metavar="FILE",
                   help="an extra IAM policy the principal holds outside the spec (e.g. AdministratorAccess)")
    p.add_argument("--who-can-become", metavar="ROLE", help="instead of a request: who may obtain this role "
                   "(a declared name or ARN), and how")
    p.add_argument("--could", metavar="ROLE", help="with --become: could this role run code as the other one")
    p.add_argument("--become", metavar="ROLE", help="the role --could asks about")
    add_format(p, RESULTS)


def _context(pairs: list[str]) -> tuple[dict, list[str]]:
    ctx: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--context {pair!r} is not KEY=VALUE")
        ctx.setdefault(key, []).append(value)
    assumed = []
    given = {k.lower() for k in ctx}
    for key, value in {**DEFAULTS, "aws:CurrentTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}.items():
        if key.lower() not in given:
            ctx[key] = [value]
            assumed.append(f"{key}={value}")
    return {k: v[0] if len(v) == 1 else v for k, v in ctx.items()}, assumed


def run(args: argparse.Namespace, io: IO) -> int:
    return on_compiled(args, io, explain)


def explain(args: argparse.Namespace, io: IO, compiled: Compiled) -> int:
    if args.who_can_become or args.could or args.become:
        return who_becomes(args, io, compiled)
    missing = [f"--{k}" for k in ("principal", "action", "resource") if getattr(args, k) is None]
    if missing:
        print(f"error: {', '.join(missing)} required (or --who-can-become ROLE, or --could ROLE --become ROLE)",
              file=io.err)
        return exits.USAGE
    try:
        ctx, assumed = _context(args.context)
        extra = [from_json(json.loads(Path(f).read_text())) for f in args.identity_policy]
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=io.err)
        return exits.USAGE
    principal = None if args.principal in ("anonymous", "*") else args.principal
    decision = Deployment.from_artifacts(compiled.artifacts).decide(
        principal, args.action, args.resource, ctx, extra_identity=extra)
    star = any(s.effect == "Allow" and "*" in s.actions and "*" in s.resources for d in extra for s in d.statements)
    try:
        spec = Meaning(compiled.model).permits(Question(principal, args.action, args.resource, ctx, star))
    except ValueError:
        spec = None  # outside the spec's assets
    agrees = spec is None or spec == decision.allowed
    if args.format == "json":
        print(json.dumps({
            "decision": decision.effect, "allowed": decision.allowed, "reason": decision.reason,
            "statements": [{"policy": r.policy, "index": r.index, "sid": r.sid, "effect": r.effect}
                           for r in decision.statements],
            "spec_permits": spec, "agrees": agrees, "assumed_context": assumed,
        }, indent=2, sort_keys=True), file=io.out)
    else:
        print(f"AWS would {'ALLOW' if decision.allowed else 'DENY'} this request "
              f"({decision.effect}: {decision.reason})", file=io.out)
        for ref in decision.statements:
            print(f"  {ref.policy}  {ref.sid or f'statement {ref.index}'}  ({ref.effect})", file=io.out)
        if spec is None:
            print("the spec does not govern this resource", file=io.out)
        else:
            print(f"the spec {'permits' if spec else 'does not permit'} it"
                  + ("" if agrees else "  <-- DISAGREEMENT: this is a bug in slpc, please report it"), file=io.out)
        stage = next((a for a in compiled.model.assets_of("api")
                      if a.authorizer and args.resource.startswith(a.arn + "/")), None)
        if spec and stage is not None:  # IAM lets the call in; the pool's token decides who gets through
            print(f"then API stage `{stage.name}`'s Cognito authorizer admits only users of user pool "
                  f"{stage.authorizer.pool_arn} whose access token holds one of: {', '.join(stage.authorizer.scopes)}",
                  file=io.out)
        if assumed:
            print("assumed: " + ", ".join(assumed), file=io.out)
    return exits.OK if agrees else exits.FINDINGS


# --------------------------------------------------------------------------- #
# Who may become a role

ASSUME_ROLE, PASS_ROLE, WITH_WEB_IDENTITY = "sts:AssumeRole", "iam:PassRole", "sts:AssumeRoleWithWebIdentity"
# What an outsider may hold: whatever IAM permissions its own admins give it.
STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
SSO_SUFFIX = "0123456789abcdef"  # the 16 characters IAM Identity Center appends to a permission set's role
PROBE = "slpc-probe"  # the name of a probing session, job, cluster or outsider role
OWN_IAM = "its own IAM policies (outside the spec: assumed to allow)"

Step = tuple[Hop, str]  # a hop and the role it reaches
Chain = tuple[Step, ...]  # from its origin to the role asked about


class Probe:
    """Which hops into each role the compiled artifacts let through, asked of the evaluator
    as the requests AWS would see; every hop a caller of the spec's world could try is tried."""

    def __init__(self, compiled: Compiled):
        self.m = compiled.model
        self.world = Deployment.from_artifacts(compiled.artifacts)
        self.meaning = Meaning(self.m)
        dep = self.m.deployment
        self.partition, self.regions = dep.partition, dep.regions
        self.accounts = spec_accounts(self.m)
        self.services = sorted({s.principal for s in T.TRUSTED_SERVICES.values()} | {T.POD_IDENTITY})
        self._found: dict[str, dict[Hop, list[Decision]]] = {}

    def hops(self, role: str) -> dict[Hop, list[Decision]]:
        """The hops into `role` AWS would allow, each with the decisions that allow it."""
        if role not in self._found:
            p = self.m.principals[role]
            tried = ((hop, self.allows(hop, p)) for hop in sorted(self.candidates(p), key=_hop_order))
            self._found[role] = {hop: decisions for hop, decisions in tried if decisions}
        return self._found[role]

    def candidates(self, p) -> set[Hop]:
        """Every declared role assuming it or passing it to each service; every account, Identity
        Center permission set and web identity the spec names anywhere."""
        others = [n for n in self.m.principals if n != p.name]
        hops = {Hop(ASSUME, n) for n in others} | {Hop(PASS, n, s) for n in others for s in self.services}
        hops |= {Hop(ACCOUNT, a) for a in self.accounts}
        for q in self.m.principals.values():
            for w in q.trust or ():
                if w.via == T.IDENTITY_CENTER:
                    hops.add(Hop(IDENTITY_CENTER, w.subject))
                elif w.via in (T.GITHUB, T.IRSA):
                    hops.add(Hop(WEB_IDENTITY, *self.meaning.web_identity(p, w)))
        return hops

    def allows(self, hop: Hop, p) -> list[Decision]:
        """The allowing decisions of every request the hop takes; empty when one is refused."""
        decide = self.world.decide
        if hop.how == PASS:
            passed = decide(self.m.principals[hop.source].arn, PASS_ROLE, p.arn, {"iam:PassedToService": hop.detail})
            if not passed.allowed:
                return []
            actions = (ASSUME_ROLE, "sts:TagSession") if hop.detail == T.POD_IDENTITY else (ASSUME_ROLE,)
            for ctx in self.service_contexts(p, hop.detail):
                assumed = [decide(hop.detail, a, p.arn, ctx) for a in actions]
                if all(d.allowed for d in assumed):
                    return [passed, *assumed]
            return []
        if hop.how == ASSUME:
            decisions = [decide(self.m.principals[hop.source].arn, ASSUME_ROLE, p.arn, {})]
        elif hop.how == WEB_IDENTITY:
            issuer = hop.source.split(":oidc-provider/", 1)[1]
            claims = {f"{issuer}:sub": hop.detail, f"{issuer}:aud": T.OIDC_AUDIENCE}
            decisions = [decide(hop.source, WITH_WEB_IDENTITY, p.arn, claims)]
        elif hop.how == IDENTITY_CENTER:
            name = f"AWSReservedSSO_{hop.source}_{SSO_SUFFIX}"
            role = f"arn:{self.partition}:iam::{p.account}:role{T.SSO_PATH}{self.regions[0]}/{name}"
            session = f"arn:{self.partition}:sts::{p.account}:assumed-role/{name}/{PROBE}"
            decisions = [decide(session, ASSUME_ROLE, p.arn, {"aws:PrincipalArn": role}, extra_identity=(STAR,))]
        else:
            outsider = f"arn:{self.partition}:iam::{hop.source}:role/{PROBE}"
            decisions = [decide(outsider, ASSUME_ROLE, p.arn, {}, extra_identity=(STAR,))]
        return decisions if all(d.allowed for d in decisions) else []

    def service_contexts(self, p, service: str) -> list[dict[str, str]]:
        """The request contexts the service sets when it assumes the role for this deployment:
        EKS Pod Identity's session tags of each declared workload (or of some other), the
        others' aws:SourceAccount and aws:SourceArn in each region where they set them."""
        if service == T.POD_IDENTITY:
            cluster = f"arn:{self.partition}:eks:{self.regions[0]}:{p.account}:cluster/{PROBE}"
            workloads = [{"cluster": w.subject, **dict(w.qualifiers)} for w in p.trust or () if w.via == T.EKS_POD]
            workloads = workloads or [{"cluster": cluster, "namespace": PROBE, "service_account": PROBE}]
            return [{f"aws:RequestTag/{T.POD_TAGS[k]}": v for k, v in tags.items()} for tags in workloads]
        svc = next(s for s in T.TRUSTED_SERVICES.values() if s.principal == service)
        if svc.source_arn is None:
            return [{}]
        return [{"aws:SourceAccount": p.account,
                 "aws:SourceArn": svc.source_arn.format(partition=self.partition, region=r,
                                                        account=p.account).replace("*", f"job/{PROBE}")}
                for r in self.regions]


def _hop_order(hop: Hop) -> tuple:
    return (hop.how, hop.source, hop.detail or "")


def chains(hops_into: Callable[[str], Iterable[Hop]], target: str, seen: tuple[str, ...] = ()) -> list[Chain]:
    """Every chain of hops that ends at `target` and passes through no role twice."""
    out: list[Chain] = []
    for hop in sorted(hops_into(target), key=_hop_order):
        out.append(((hop, target),))
        if hop.how in (ASSUME, PASS) and hop.source not in seen + (target,):
            out += [c + ((hop, target),) for c in chains(hops_into, hop.source, seen + (target,))]
    return out


def _role(model, text: str) -> str:
    """A declared role by name or ARN."""
    for p in model.principals.values():
        if text in (p.name, p.arn):
            return p.name
    raise ValueError(f"no role `{text}` in the spec (give a declared name or a role ARN)")


def who_becomes(args: argparse.Namespace, io: IO, compiled: Compiled) -> int:
    m = compiled.model
    try:
        if args.who_can_become and (args.could or args.become):
            raise ValueError("--who-can-become and --could/--become ask different questions: give one")
        if not args.who_can_become and not (args.could and args.become):
            raise ValueError("--could and --become go together")
        target = _role(m, args.who_can_become or args.become)
        origin = _role(m, args.could) if args.could else None
    except ValueError as exc:
        print(f"error: {exc}", file=io.err)
        return exits.USAGE
    probe, meaning = Probe(compiled), Meaning(m)
    found = chains(lambda r: probe.hops(r).keys(), target)
    said = meaning.obtains(target)
    declared = chains(lambda r: meaning.obtains(r) or (), target) if said is not None else None
    if origin is not None:
        found = [c for c in found if _starts_at(c, origin)]
        declared = [c for c in declared if _starts_at(c, origin)] if declared is not None else None
    agrees = declared is None or set(found) == set(declared)
    show = _json_answer if args.format == "json" else _text_answer
    show(io, m, probe, target, origin, found, declared, agrees)
    return exits.OK if agrees else exits.FINDINGS


def _starts_at(chain: Chain, role: str) -> bool:
    hop = chain[0][0]
    return hop.how in (ASSUME, PASS) and hop.source == role


def _step_text(step: Step) -> str:
    hop, target = step
    return {
        ASSUME: lambda: f"role `{hop.source}` assumes `{target}`",
        PASS: lambda: f"role `{hop.source}` passes `{target}` to {hop.detail}, which assumes it",
        WEB_IDENTITY: lambda: f"a web identity token of {hop.source} with subject {hop.detail} becomes `{target}`",
        IDENTITY_CENTER: lambda: f"IAM Identity Center permission set {hop.source} becomes `{target}`",
        ACCOUNT: lambda: f"a principal of account {hop.source} (as its IAM policies allow) becomes `{target}`",
    }[hop.how]()


def _chain_text(chain: Chain) -> str:
    return "; then ".join(_step_text(s) for s in chain)


def _statements(probe: Probe, step: Step) -> list[str]:
    """The statements that let the hop through; an outsider's own IAM policies are assumed to."""
    hop, target = step
    return [OWN_IAM if r.policy == EXTRA_IDENTITY else f"{r.policy}  {r.sid or f'statement {r.index}'}  ({r.effect})"
            for d in probe.hops(target)[hop] for r in d.statements if r.sid != FULL_ACCESS.sid]


def _text_answer(io: IO, m, probe: Probe, target: str, origin: str | None, found: list[Chain],
                 declared: list[Chain] | None, agrees: bool) -> None:
    arn = m.principals[target].arn
    if origin is None:
        print(f"who can become role `{target}` ({arn}):", file=io.out)
    else:
        print(f"could role `{origin}` run code as role `{target}`? AWS would {'ALLOW' if found else 'DENY'} it",
              file=io.out)
    for chain in found:
        print(f"  {_chain_text(chain)}", file=io.out)
        for ref in dict.fromkeys(r for step in chain for r in _statements(probe, step)):
            print(f"      {ref}", file=io.out)
    if not found:
        print("  no way tried reaches it" if origin is None else f"  no chain of hops from `{origin}` reaches it",
              file=io.out)
    if declared is None:
        print(f"the spec does not say who may obtain role `{target}` (no `assumed_by` lines)", file=io.out)
    elif agrees:
        print("the spec declares the same", file=io.out)
    else:
        print("the spec declares otherwise  <-- DISAGREEMENT: this is a bug in slpc, please report it", file=io.out)
        for label, only in (("only AWS", set(found) - set(declared)), ("only the spec", set(declared) - set(found))):
            for chain in sorted(only, key=_chain_text):
                print(f"  {label}: {_chain_text(chain)}", file=io.out)


def _chain_json(chain: Chain) -> list[dict]:
    return [{"how": hop.how, "source": hop.source, "detail": hop.detail, "becomes": target} for hop, target in chain]


def _json_answer(io: IO, m, probe: Probe, target: str, origin: str | None, found: list[Chain],
                 declared: list[Chain] | None, agrees: bool) -> None:
    out = {
        "role": target, "arn": m.principals[target].arn,
        "paths": [{"steps": _chain_json(c), "statements": [_statements(probe, s) for s in c]} for c in found],
        "spec_paths": None if declared is None else [{"steps": _chain_json(c)} for c in declared],
        "agrees": agrees,
    }
    if origin is not None:
        out |= {"from": origin, "could": bool(found), "spec_could": None if declared is None else bool(declared)}
    print(json.dumps(out, indent=2, sort_keys=True), file=io.out)
