"""`slpc validate SPEC...`: is what is deployed what we compiled, and is it valid?

The CLI driver owns the parser; it calls `add_arguments` on the sub-command's
parser and `run` with the parsed arguments. Exit codes: 0 all in sync and clean,
1 drift or findings, 2 usage or configuration error (the spec does not compile,
no credentials, unreachable endpoint, expired token: one line, no traceback;
credentials are never printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from slpc.dsl import sarif as sarif_log

from .findings import Finding, Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
CHECKS = ("drift", "analyzer")
JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Check the live AWS account against the spec: deployed policies and bucket settings "
                          "compared with the compiled ones by meaning, and IAM Access Analyzer ValidatePolicy "
                          "on every compiled policy. Read-only (see docs/validate.md).")
    parser.add_argument("files", nargs="+", metavar="SPEC", help="spec files of one deployment; - reads stdin")
    parser.add_argument("--profile", help="AWS profile to use (default: the standard credential chain)")
    parser.add_argument("--account-profile", action="append", default=[], metavar="ACCOUNT=PROFILE",
                        help="read the resources and roles of account ACCOUNT (12 digits) with AWS profile "
                             "PROFILE; repeatable (default: only the --profile credentials' account is read)")
    parser.add_argument("--region", help="AWS region (default: the spec's first region)")
    parser.add_argument("--endpoint-url", help="send every AWS call to this endpoint (a local emulator)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--checks", default=",".join(CHECKS),
                        help=f"comma-separated checks to run: {','.join(CHECKS)} (default: all)")


def parse_account_profiles(values) -> dict[str, str]:
    """`ACCOUNT=PROFILE` values as {account: profile}; ValueError with a one-line reason."""
    out: dict[str, str] = {}
    for v in values or ():
        account, sep, profile = str(v).partition("=")
        account, profile = account.strip(), profile.strip()
        if not sep or not profile:
            raise ValueError(f"--account-profile {v!r}: expected ACCOUNT=PROFILE (e.g. 210987654321=audit)")
        if not (len(account) == 12 and account.isdigit() and account.isascii()):
            raise ValueError(f"--account-profile {v!r}: the account must be 12 digits, got {account!r}")
        if out.get(account, profile) != profile:
            raise ValueError(f"--account-profile: account {account} is given two profiles "
                             f"({out[account]}, {profile})")
        out[account] = profile
    return out


def _compile(files, err: TextIO):
    from slpc.compiler.pipeline import compile_sources, read_sources
    from slpc.dsl.diagnostics import render

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


def _account_fetchers(profiles: dict[str, str], sessions: dict, region, endpoint_url) -> dict:
    """{account: Fetcher} for --account-profile (and injected sessions); each
    session must belong to its account, checked with sts:GetCallerIdentity."""
    from .fetch import Fetcher, LiveConfigError

    out = {}
    for account in sorted(set(profiles) | set(sessions)):
        profile = profiles.get(account)
        where = f"--account-profile {account}={profile}" if profile else f"the session for account {account}"
        try:
            f = Fetcher(sessions.get(account), region=region, endpoint_url=endpoint_url, profile=profile)
            actual = f.caller_account()
        except LiveConfigError as exc:
            raise LiveConfigError(f"{where}: {exc}") from None
        if actual != account:
            raise LiveConfigError(f"{where}: the credentials are for account {actual}, not {account}")
        out[account] = f
    return out


def to_json(report: Report) -> dict:
    return {"version": JSON_VERSION, "in_sync": report.clean,
            "findings": [f.to_json() for f in report.findings],
            "checked": sorted(report.checked),
            "skipped": [{"artifact": p, "reason": r} for p, r in report.skipped]}


def text(report: Report) -> str:
    lines = []
    for f in report.findings:
        sid = f" [{', '.join(f.sids)}]" if f.sids else ""
        lines.append(f"{f.artifact}: {f.level} {f.code} ({f.source}){sid}: {f.message}")
    for p, r in report.skipped:
        lines.append(f"{p}: skipped: {r}")
    n_err = sum(1 for f in report.findings if f.level != "note")
    lines.append(f"{len(report.checked)} artifact(s) in sync, {n_err} finding(s)" +
                 (f", {len(report.skipped)} skipped" if report.skipped else ""))
    return "\n".join(lines) + "\n"


def sarif(report: Report) -> dict:
    from slpc import __version__

    codes = sorted({f.code or f.kind for f in report.findings})
    first: dict[str, Finding] = {}
    for f in report.findings:
        first.setdefault(f.code or f.kind, f)
    rules = [sarif_log.rule(c, f"{first[c].kind} ({first[c].source})", first[c].level) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    results = [sarif_log.result(f.code or f.kind, index[f.code or f.kind], f.level, f.message, f.artifact,
                                logical=f.target,
                                properties={"kind": f.kind, "source": f.source, "sids": list(f.sids),
                                            **({"request": f.request} if f.request else {})})
               for f in report.findings]
    return sarif_log.log("slpc validate", __version__, rules, results)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None, *,
        session=None, analyzer_client=None, sessions: dict | None = None) -> int:
    """`session` (a boto3 Session), `sessions` ({account id: boto3 Session}) and
    `analyzer_client` are for tests; normally they come from --profile,
    --account-profile, --region and --endpoint-url. An injected session for an
    account takes the place of that account's --account-profile."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        account_profiles = parse_account_profiles(getattr(args, "account_profile", None))
        for account in sessions or {}:
            parse_account_profiles([f"{account}=injected"])
    except ValueError as exc:
        err.write(f"slpc validate: {exc}\n")
        return EXIT_USAGE
    checks = {c.strip() for c in (args.checks or "").split(",") if c.strip()}
    unknown = checks - set(CHECKS)
    if unknown or not checks:
        err.write(f"slpc validate: unknown --checks {','.join(sorted(unknown)) or '(none)'}; "
                  f"expected a comma-separated subset of {','.join(CHECKS)}\n")
        return EXIT_USAGE
    compiled = _compile(args.files, err)
    if compiled is None:
        return EXIT_USAGE
    try:
        import botocore  # noqa: F401
    except ImportError:
        err.write("slpc validate: boto3 is not installed (pip install boto3)\n")
        return EXIT_USAGE
    from .fetch import Fetcher, LiveConfigError, client_config

    regions = compiled.model.deployment.regions if compiled.model is not None else ()
    region = args.region or (regions[0] if regions else None)
    report = Report()
    try:
        fetcher = Fetcher(session, region=region, endpoint_url=args.endpoint_url, profile=args.profile)
        account = fetcher.caller_account()
        others = _account_fetchers(account_profiles, sessions or {}, region, args.endpoint_url)
        if "analyzer" in checks:
            from . import analyzer
            client = analyzer_client or fetcher.session.client(
                "accessanalyzer", region_name=fetcher.region, endpoint_url=args.endpoint_url, config=client_config())
            report.findings += analyzer.validate(client, compiled.artifacts)
        if "drift" in checks:
            from .validate import Validator
            sub = Validator(fetcher, account, others).run(compiled.artifacts)
            report.findings += sub.findings
            report.checked += sub.checked
            report.skipped += sub.skipped
    except LiveConfigError as exc:
        err.write(f"slpc validate: {exc}\n")
        return EXIT_USAGE
    if args.format == "json":
        out.write(json.dumps(to_json(report), indent=2, sort_keys=True) + "\n")
    elif args.format == "sarif":
        out.write(json.dumps(sarif(report), indent=2) + "\n")
    else:
        out.write(text(report))
    return EXIT_CLEAN if report.clean else EXIT_FINDINGS
