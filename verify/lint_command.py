"""``slpc lint-policy``: lint policy files offline and report as text, JSON or SARIF.

The CLI driver owns the parser; it calls :func:`add_arguments` on the
sub-command's parser and :func:`run` with the parsed arguments. Exit codes:
0 no findings, 1 findings, 2 bad usage (unknown type, unreadable file).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from slpc.dsl import sarif as sarif_log
from slpc.verify.catalogue import default
from slpc.verify.lint import POLICY_TYPES, REGISTRY, RESOURCE_TYPES, Finding, FindingType, lint

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
SARIF_LEVELS = {
    FindingType.ERROR: "error",
    FindingType.SECURITY_WARNING: "error",
    FindingType.WARNING: "warning",
    FindingType.SUGGESTION: "note",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy JSON files; - reads standard input")
    parser.add_argument("--type", dest="policy_type", required=True, help=f"policy type: {'|'.join(POLICY_TYPES)}")
    parser.add_argument("--resource-type", help=f"for --type resource: {'|'.join(RESOURCE_TYPES)}")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")


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


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if args.policy_type not in POLICY_TYPES:
        err.write(f"slpc lint-policy: unknown --type {args.policy_type!r}; expected {'|'.join(POLICY_TYPES)}\n")
        return EXIT_USAGE
    results = []
    for name in args.files:
        try:
            text = _read(name)
        except (OSError, UnicodeDecodeError) as exc:
            err.write(f"slpc lint-policy: cannot read {name}: {exc}\n")
            return EXIT_USAGE
        try:
            findings = lint(text, args.policy_type, args.resource_type)
        except ValueError as exc:
            err.write(f"slpc lint-policy: {exc}\n")
            return EXIT_USAGE
        results.append(("<stdin>" if name == "-" else name, findings))
    if args.format == "sarif":
        out.write(json.dumps(sarif(results), indent=2) + "\n")
    elif args.format == "json":
        _json(results, out)
    else:
        _text(results, out)
    return EXIT_FINDINGS if any(findings for _, findings in results) else EXIT_CLEAN
