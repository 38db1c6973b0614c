"""`slpc import -o draft.slp`: inventory a live account's model assets and draft their spec.

Strictly read-only (Get / List / Describe). Exit codes: 0 the draft is written
(warnings allowed; an account with nothing in it gives an empty draft with a
comment), 2 usage or configuration error (unknown profile, no credentials, no
permission to read anything, unreachable endpoint: one line, no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from slpc.diagnostics import render
from slpc.dsl import format_spec
from slpc.verify.live.current_access import current_access
from slpc.verify.live.discover import Discovery
from slpc.verify.live.draft import draft
from slpc.verify.live.fetch import Fetcher, LiveConfigError
from slpc.verify.live.wider import wider
from slpc.verify.progress import Progress, is_tty

from .. import exits
from ..formats import add_format
from ..io import IO
from ..pipeline import compile_text
from ..accounts import account_fetchers, parse_account_profiles

NAME = "import"
HELP = "inventory a live account's model assets and draft their spec (read-only)"
FORMATS = ("text", "json")
JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Read a live AWS account (read-only): where model data lives (SageMaker models, jobs, "
                          "endpoints, model packages, Bedrock imported models and fine-tuning jobs, buckets whose "
                          "keys look like model files), the ECR repositories and KMS keys of those assets, the "
                          "roles that run the "
                          "workloads (SageMaker, Bedrock, ECS, EKS Pod Identity and IRSA) and what they can do "
                          "today, the VPCs and endpoints they use. Writes a draft spec with `# TODO` "
                          "comments where slpc had to guess, and lists what is wider today than the draft, each "
                          "with a request the deployed policies allow (see docs/import.md).")
    parser.add_argument("--profile", help="AWS profile to use (default: the standard credential chain)")
    parser.add_argument("--account-profile", action="append", default=[], metavar="ACCOUNT=PROFILE",
                        help="read the roles of account ACCOUNT (12 digits) with AWS profile PROFILE; repeatable")
    parser.add_argument("--region", action="append", default=[], metavar="REGION",
                        help="a region to read; repeatable (default: the profile's region)")
    parser.add_argument("--endpoint-url", help="send every AWS call to this endpoint (a local emulator)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the draft spec")
    add_format(parser, FORMATS, help="the inventory summary on stdout as text or JSON")


def text(inv, accesses, exposures, extra, output: str, warnings: int) -> str:
    lines = [f"account {inv.account}, regions {', '.join(inv.regions)}"]
    for loc in inv.locations:
        lines.append(f"model data: s3://{loc.bucket}/{loc.prefix} ({loc.source})")
    for r in inv.roles:
        lines.append(f"role: {r.arn} ({', '.join(r.used_by)})")
    for x in exposures:
        for r in x.requests:
            ctx = ", ".join(f"{k}={v}" for k, v in sorted(r["context"].items())) or "no context"
            lines.append(f"wider today than the draft: {x.asset}: its policy allows {r['principal']} "
                         f"{r['action']} {r['resource']} [{ctx}]")
    for p in inv.problems:
        lines.append(f"not read: {p.resource}: {p.message}")
    for f in extra:
        lines.append(f"wider today than the draft: {f.artifact}: {f.message}")
    lines.append(f"{len(inv.buckets)} bucket(s), {len(inv.repositories)} repository(ies), {len(inv.keys)} key(s), "
                 f"{len(inv.roles)} role(s), {len(inv.endpoints)} endpoint(s), {len(accesses)} grant(s), "
                 f"{sum(f.not_shown or 1 for f in extra) + sum(len(x.requests) for x in exposures)} "
                 "access(es) wider today than the draft: "
                 f"draft written to {output} ({warnings} warning(s): `slpc check {output}` shows them)")
    return "\n".join(lines) + "\n"


def to_json(inv, accesses, exposures, admins, extra, output: str, warnings: list[str]) -> dict:
    return {"version": JSON_VERSION, "draft": output, "draft_warnings": warnings, "inventory": inv.to_json(),
            "admins": {asset: roles for asset, roles in sorted(admins.items())},
            "access": [{"role": a.role, "verb": a.verb, "kind": a.kind, "asset": a.asset, "prefix": a.prefix,
                        "networks": list(a.networks), "anywhere": a.anywhere, "whole_bucket": a.whole,
                        "lacks": list(a.lacks)} for a in accesses],
            "exposures": [{"kind": x.kind, "asset": x.asset, "who": x.who, "actions": list(x.actions),
                           "requests": list(x.requests)} for x in exposures],
            "wider": [f.to_json() for f in extra]}


def run(args: argparse.Namespace, io: IO, *, session=None, sessions: dict | None = None,
        tty: bool | None = None) -> int:
    """`session` (a boto3 Session), `sessions` ({account: Session}) and `tty` are for tests."""
    out, err = io.out, io.err
    try:
        account_profiles = parse_account_profiles(getattr(args, "account_profile", None))
    except ValueError as exc:
        err.write(f"slpc import: {exc}\n")
        return exits.USAGE
    try:
        import botocore  # noqa: F401  (boto3 is an optional dependency)
    except ImportError:
        err.write("slpc import: boto3 is not installed (pip install boto3)\n")
        return exits.USAGE
    regions = tuple(dict.fromkeys(args.region or ()))
    tty = is_tty(err) if tty is None else tty
    try:
        fetcher = Fetcher(session, region=regions[0] if regions else None, endpoint_url=args.endpoint_url,
                          profile=args.profile)
        account = fetcher.caller_account()
        others = account_fetchers(account_profiles, sessions or {}, fetcher.region, args.endpoint_url)
        progress = Progress(err, "slpc import", "resources read") if tty else None
        inv = Discovery(fetcher, account, regions or (fetcher.region,), others, progress).run()
    except LiveConfigError as exc:
        err.write(f"slpc import: {exc}\n")
        return exits.USAGE
    accesses, exposures, admins, problems = current_access(inv)
    inv = dataclasses.replace(inv, problems=tuple(sorted(set(inv.problems + tuple(problems)),
                                                         key=lambda p: (p.resource, p.message))))
    spec_text = format_spec(draft(inv, accesses, exposures, admins))
    compiled = compile_text(spec_text, args.output)
    errors = [d for d in compiled.diagnostics if d.is_error]
    if errors:  # a region slpc does not know, or a bug: never write a draft that does not compile
        for d in errors:
            err.write(render(d, {args.output: spec_text}) + "\n\n")
        err.write("slpc import: the draft does not compile (see above); nothing written\n")
        return exits.USAGE
    try:
        extra = wider(fetcher, account, others, compiled.model, compiled.artifacts,
                      Progress(err, "slpc import", "draft policies compared") if tty else None)
    except LiveConfigError as exc:
        err.write(f"slpc import: {exc}\n")
        return exits.USAGE
    try:
        Path(args.output).write_text(spec_text, encoding="utf-8")
    except OSError as exc:
        err.write(f"slpc import: cannot write {args.output}: {exc.strerror}\n")
        return exits.USAGE
    if args.format == "json":
        out.write(json.dumps(to_json(inv, accesses, exposures, admins, extra, args.output,
                                     [d.code for d in compiled.diagnostics]), indent=2, sort_keys=True) + "\n")
    else:
        out.write(text(inv, accesses, exposures, extra, args.output, len(compiled.diagnostics)))
    return exits.OK
