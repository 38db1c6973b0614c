"""``slpc lint-policy``: lint policy files offline and report as text, JSON or SARIF.

Exit codes: 0 no findings, 1 findings, 2 bad usage (unknown type, unreadable file).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from slpc.diagnostics import sarif as sarif_log
from slpc.verify.catalogue import default
from slpc.verify.lint import POLICY_TYPES, REGISTRY, RESOURCE_TYPES, Finding, FindingType, lint

from .. import exits
from ..formats import DIAGNOSTICS, add_format
from ..io import IO

NAME = "lint-policy"
HELP = "validate any policy JSON offline (Access Analyzer issue codes)"
SARIF_LEVELS = {t: t.level for t in FindingType}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy JSON files; - reads standard input")
    parser.add_argument("--type", dest="policy_type", required=True, help=f"policy type: {'|'.join(POLICY_TYPES)}")
    parser.add_argument("--resource-type", help=f"for --type resource: {'|'.join(RESOURCE_TYPES)}")
    add_format(parser, DIAGNOSTICS)


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    with open(name, encoding="utf-8") as fh:
        return fh.read()


def _text(results: list[tuple[str, list[Finding]]], out: TextIO) -> None:
    for name, findings in results:
        for f in findings:
            sid = f" ({f.sid})" if f.sid else ""
            out.write(f"{name}: {f.finding_type.value} {f.issue_code} {f.path}{sid}: {f.message}\n")


def _json(results: list[tuple[str, list[Finding]]], out: TextIO) -> None:
    doc = {
        "catalogue": default().version,
        "files": [{"file": name, "findings": [f.to_json() for f in findings]} for name, findings in results],
    }
    out.write(json.dumps(doc, indent=2) + "\n")


def sarif(results: list[tuple[str, list[Finding]]]) -> dict:
    """A SARIF 2.1.0 log with one run; every registered check is a rule."""
    rules = [
        sarif_log.rule(c.id, c.doc, SARIF_LEVELS[c.finding_type],
                       {"findingType": c.finding_type.value, "accessAnalyzerCode": c.access_analyzer})
        for c in REGISTRY.values()
    ]
    index = {c.id: i for i, c in enumerate(REGISTRY.values())}
    out = [
        sarif_log.result(f.issue_code, index[f.issue_code], SARIF_LEVELS[f.finding_type], f.message, name,
                         logical=f.path, properties={"findingType": f.finding_type.value,
                                                     "statementIndex": f.statement_index, "sid": f.sid})
        for name, findings in results
        for f in findings
    ]
    return sarif_log.log("slpc lint-policy", default().version, rules, out)


def run(args: argparse.Namespace, io: IO) -> int:
    out, err = io.out, io.err
    if args.policy_type not in POLICY_TYPES:
        err.write(f"slpc lint-policy: unknown --type {args.policy_type!r}; expected {'|'.join(POLICY_TYPES)}\n")
        return exits.USAGE
    results = []
    for name in args.files:
        try:
            text = _read(name)
        except (OSError, UnicodeDecodeError) as exc:
            err.write(f"slpc lint-policy: cannot read {name}: {exc}\n")
            return exits.USAGE
        try:
            findings = lint(text, args.policy_type, args.resource_type)
        except ValueError as exc:
            err.write(f"slpc lint-policy: {exc}\n")
            return exits.USAGE
        results.append(("<stdin>" if name == "-" else name, findings))
    if args.format == "sarif":
        out.write(json.dumps(sarif(results), indent=2) + "\n")
    elif args.format == "json":
        _json(results, out)
    else:
        _text(results, out)
    return exits.FINDINGS if any(findings for _, findings in results) else exits.OK
