"""`--format` and how diagnostics are written: text on stderr, JSON or SARIF on stdout.

The one place a command's output format is declared and compile diagnostics are
printed, so `check`, `compile` and `report` cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from slpc import __version__
from slpc.diagnostics import Diagnostic, render, sarif, to_json

from .io import IO

DIAGNOSTICS = ("text", "json", "sarif")  # compile, check, lint-policy, validate
RESULTS = ("text", "json")  # explain, prove
DIFF = ("text", "json", "markdown")
DIAGNOSTICS_HELP = "diagnostics as text (stderr), or JSON or SARIF 2.1.0 (stdout)"


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str], help: str | None = None) -> None:
    """`--format`, the first choice the default."""
    parser.add_argument("--format", choices=tuple(choices), default=choices[0], help=help)


def report_diagnostics(diags: Sequence[Diagnostic], sources: dict[str, str], fmt: str, io: IO,
                       extra: dict | None = None) -> None:
    """Diagnostics in `fmt`: text (rendered with carets, then a count) on stderr; JSON
    (with `extra` fields) or SARIF on stdout."""
    if fmt == "sarif":
        print(json.dumps(sarif.from_diagnostics(diags, "slpc", __version__), indent=2, sort_keys=True), file=io.out)
        return
    if fmt == "json":
        payload = {"ok": not any(d.is_error for d in diags), "diagnostics": [to_json(d) for d in diags]}
        payload.update(extra or {})
        print(json.dumps(payload, indent=2, sort_keys=True), file=io.out)
        return
    for d in diags:
        print(render(d, sources), file=io.err)
        print(file=io.err)
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    if diags:
        print(f"{errors} error(s), {warnings} warning(s)", file=io.err)
