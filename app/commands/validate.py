"""`slpc validate SPEC...`: is what is deployed what we compiled, and is it valid?

Exit codes: 0 all in sync and clean,
1 drift or findings, 2 usage or configuration error (the spec does not compile,
no credentials, unreachable endpoint, expired token: one line, no traceback;
credentials are never printed).
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from slpc import __version__
from slpc.diagnostics import render, sarif as sarif_log
from slpc.verify.live import analyzer
from slpc.verify.live.fetch import Fetcher, LiveConfigError, client_config
from slpc.verify.live.findings import CANNOT_VERIFY, SOURCE_ANALYZER, Finding, Report, merge_policy_findings
from slpc.verify.live.offline import lint_findings
from slpc.verify.live.validate import Validator, whole_roles
from slpc.verify.progress import Progress, is_tty

from .. import exits
from ..accounts import account_fetchers, parse_account_profiles
from ..formats import DIAGNOSTICS, add_format
from ..io import IO
from ..pipeline import compile_sources, read_sources

NAME = "validate"
HELP = "check a live AWS account against the spec (read-only)"
CHECKS = ("drift", "analyzer", "lint")
JSON_VERSION = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Check the live AWS account against the spec: deployed policies and settings "
                          "compared with the compiled ones by meaning, IAM Access Analyzer (ValidatePolicy, "
                          "custom checks) and slpc's offline validator on every policy. Read-only "
                          "(see docs/validate.md).")
    parser.add_argument("files", nargs="+", metavar="SPEC", help="spec files of one deployment; - reads stdin")
    parser.add_argument("--profile", help="AWS profile to use (default: the standard credential chain)")
    parser.add_argument("--account-profile", action="append", default=[], metavar="ACCOUNT=PROFILE",
                        help="read the resources and roles of account ACCOUNT (12 digits) with AWS profile "
                             "PROFILE; repeatable (default: only the --profile credentials' account is read)")
    parser.add_argument("--region", help="AWS region (default: the spec's first region)")
    parser.add_argument("--endpoint-url", help="send every AWS call to this endpoint (a local emulator)")
    add_format(parser, DIAGNOSTICS)
    parser.add_argument("--checks", default=",".join(CHECKS),
                        help=f"comma-separated checks to run: {','.join(CHECKS)} (default: all)")
    parser.add_argument("--scan-roles", action="store_true",
                        help="also run Access Analyzer CheckAccessNotGranted on every role of the account that "
                             "the spec does not name, against the data actions on its assets (charged per call "
                             "by AWS; the number of calls is printed first)")


def _compile(files, err: TextIO):
    sources, diags = read_sources(files)
    compiled = compile_sources(sources) if not diags else None
    if compiled is not None:
        diags = compiled.diagnostics
    errors = [d for d in diags if d.is_error]
    if errors or compiled is None:
        texts = {s.name: s.text for s in sources}
        for d in errors:
            err.write(render(d, texts) + "\n\n")
        err.write(f"slpc validate: the spec does not compile ({len(errors)} error(s))\n")
        return None
    return compiled


def to_json(report: Report, artifacts=()) -> dict:
    """The stable shape `slpc report --validation` reads (docs/validate.md)."""
    return {"version": JSON_VERSION, "in_sync": report.clean,
            "resources": [{"artifact": a.path, "kind": a.kind, "resource": a.target, "account": a.account,
                           "status": report.status(a.path)} for a in artifacts],
            "findings": [f.to_json() for f in report.findings],
            "counterexamples": [{"artifact": f.artifact, "resource": f.target, "code": f.code, "sids": list(f.sids),
                                 "request": f.request} for f in report.findings if f.request is not None],
            "checked": sorted(report.checked),
            "skipped": [{"artifact": p, "reason": r} for p, r in report.skipped]}


def text(report: Report) -> str:
    lines = []
    for f in report.findings:
        sid = f" [{', '.join(f.sids)}]" if f.sids else ""
        lines.append(f"{f.artifact}: {f.level} {f.code} ({', '.join((f.source,) + f.also)}){sid}: {f.message}")
    for p, r in report.skipped:
        lines.append(f"{p}: skipped: {r}")
    n_err = sum(1 for f in report.findings if f.level != "note")
    lines.append(f"{len(report.checked)} artifact(s) in sync, {n_err} finding(s)" +
                 (f", {len(report.skipped)} skipped" if report.skipped else ""))
    return "\n".join(lines) + "\n"


def sarif(report: Report) -> dict:
    codes = sorted({f.code or f.kind for f in report.findings})
    first: dict[str, Finding] = {}
    for f in report.findings:
        first.setdefault(f.code or f.kind, f)
    rules = [sarif_log.rule(c, f"{first[c].kind} ({first[c].source})", first[c].level) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    results = [sarif_log.result(f.code or f.kind, index[f.code or f.kind], f.level, f.message, f.artifact,
                                logical=f.target,
                                properties={"kind": f.kind, "source": f.source, "sources": [f.source, *f.also],
                                            "sids": list(f.sids),
                                            **({"request": f.request} if f.request else {}),
                                            **({"not_shown": f.not_shown} if f.not_shown else {})})
               for f in report.findings]
    return sarif_log.log("slpc validate", __version__, rules, results)


def _other_role_policies(fetchers: dict, skip: set[str]) -> tuple[list[tuple[str, str, str]], list[Finding]]:
    """(role ARN, label, policy text) of every role not in `skip` in each account, a
    managed policy once; roles or accounts that cannot be read are findings."""
    out, problems, seen = [], [], set()
    for account, f in sorted(fetchers.items()):
        roles = f.roles()
        if roles.value is None:
            problems.append(Finding(CANNOT_VERIFY, f"iam/{account}", account, roles.problem or "cannot list roles",
                                    source=SOURCE_ANALYZER, code="cannot-verify"))
            continue
        for arn in roles.value:
            if arn in skip:
                continue
            read = f.role_policies(arn)
            if read.value is None:
                problems.append(Finding(CANNOT_VERIFY, f"iam/{account}/{arn.rsplit('/', 1)[1]}", arn,
                                        f"role not in the spec: {read.problem or read.missing}",
                                        source=SOURCE_ANALYZER, code="cannot-verify"))
                continue
            for label, doc in read.value:
                if label.startswith("managed ") and label in seen:
                    continue
                seen.add(label)
                out.append((arn, label, json.dumps(doc, sort_keys=True)))
    return out, problems


def run(args: argparse.Namespace, io: IO, *, session=None, analyzer_client=None, sessions: dict | None = None, tty: bool | None = None) -> int:
    """`session` (a boto3 Session), `sessions` ({account id: boto3 Session}),
    `analyzer_client` and `tty` (is stderr a terminal) are for tests; normally they
    come from --profile, --account-profile, --region, --endpoint-url and stderr. An
    injected session for an account takes the place of that account's --account-profile."""
    out, err = io.out, io.err
    try:
        account_profiles = parse_account_profiles(getattr(args, "account_profile", None))
        for account in sessions or {}:
            parse_account_profiles([f"{account}=injected"])
    except ValueError as exc:
        err.write(f"slpc validate: {exc}\n")
        return exits.USAGE
    checks = {c.strip() for c in (args.checks or "").split(",") if c.strip()}
    unknown = checks - set(CHECKS)
    if unknown or not checks:
        err.write(f"slpc validate: unknown --checks {','.join(sorted(unknown)) or '(none)'}; "
                  f"expected a comma-separated subset of {','.join(CHECKS)}\n")
        return exits.USAGE
    compiled = _compile(args.files, err)
    if compiled is None:
        return exits.USAGE
    try:
        import botocore  # noqa: F401
    except ImportError:
        err.write("slpc validate: boto3 is not installed (pip install boto3)\n")
        return exits.USAGE

    regions = compiled.model.deployment.regions if compiled.model is not None else ()
    region = args.region or (regions[0] if regions else None)
    report = Report()
    tty = is_tty(err) if tty is None else tty
    try:
        fetcher = Fetcher(session, region=region, endpoint_url=args.endpoint_url, profile=args.profile)
        account = fetcher.caller_account()
        others = account_fetchers(account_profiles, sessions or {}, region, args.endpoint_url)
        if "drift" in checks:
            sub = Validator(fetcher, account, others, model=compiled.model).run(
                compiled.artifacts, progress=Progress(err, "slpc validate", "artifacts read") if tty else None)
            report.findings += sub.findings
            report.checked += sub.checked
            report.skipped += sub.skipped
            report.deployed = sub.deployed
        policy_findings: list[Finding] = []
        if "analyzer" in checks or getattr(args, "scan_roles", False):
            client = analyzer_client or fetcher.session.client(
                "accessanalyzer", region_name=fetcher.region, endpoint_url=args.endpoint_url, config=client_config())
        if "analyzer" in checks:
            policy_findings += analyzer.validate(client, compiled.artifacts)
        if "lint" in checks:
            policy_findings = merge_policy_findings(policy_findings, lint_findings(compiled.artifacts))
        report.findings += policy_findings
        if "analyzer" in checks:
            report.findings += analyzer.custom_checks(client, whole_roles(compiled.artifacts)[0], report.deployed)
        if getattr(args, "scan_roles", False):
            fetchers = {account: fetcher, **others}
            spec_roles = {p.arn for p in compiled.model.principals.values()}
            policies, problems = _other_role_policies(fetchers, spec_roles)
            report.findings += problems

            def announce(calls: int) -> None:
                err.write(f"slpc validate: --scan-roles makes {calls} Access Analyzer CheckAccessNotGranted "
                          f"call(s) for {len(policies)} policies of roles not in the spec; AWS charges each call\n")
            report.findings += analyzer.scan_roles(client, policies, analyzer.data_access(compiled.model), announce)
    except LiveConfigError as exc:
        err.write(f"slpc validate: {exc}\n")
        return exits.USAGE
    if args.format == "json":
        out.write(json.dumps(to_json(report, compiled.artifacts), indent=2, sort_keys=True) + "\n")
    elif args.format == "sarif":
        out.write(json.dumps(sarif(report), indent=2) + "\n")
    else:
        out.write(text(report))
    return exits.OK if report.clean else exits.FINDINGS
