"""`slpc explain`: would AWS allow this request under the compiled spec, and why?

Compiles in memory, evaluates the request against the policies AWS would apply,
and sets the answer beside the spec's own meaning. They must agree; if they do
not, that is a bug in slpc and the exit code says so.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from slpc.policy.document import from_json
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question

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
    p.add_argument("--principal", required=True, help='the caller: a role ARN, "anonymous", or a service principal')
    p.add_argument("--action", required=True, help="e.g. s3:GetObject")
    p.add_argument("--resource", required=True, help="the resource ARN (an S3 object ARN for object actions)")
    p.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                   help="a request context key, e.g. aws:SourceVpce=vpce-...; repeat a key for several values")
    p.add_argument("--identity-policy", action="append", default=[], metavar="FILE",
                   help="an extra IAM policy the principal holds outside the spec (e.g. AdministratorAccess)")
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
        if assumed:
            print("assumed: " + ", ".join(assumed), file=io.out)
    return exits.OK if agrees else exits.FINDINGS
