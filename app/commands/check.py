"""`slpc check SPEC...`: parse and check, and build in memory; write nothing."""

from __future__ import annotations

import argparse

from .. import exits
from ..common import add_files, load
from ..formats import DIAGNOSTICS, DIAGNOSTICS_HELP, add_format, report_diagnostics
from ..io import IO

NAME = "check"
HELP = "parse and check a spec without writing anything"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p)
    add_format(p, DIAGNOSTICS, DIAGNOSTICS_HELP)


def run(args: argparse.Namespace, io: IO) -> int:
    c = load(args.files)
    report_diagnostics(c.diagnostics, c.texts, args.format, io)
    if args.format == "text" and c.ok:
        print(f"ok: {len(c.artifacts)} artifacts would be written", file=io.out)
    return exits.OK if c.ok else exits.USAGE
