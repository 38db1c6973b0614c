"""`slpc fmt SPEC...`: rewrite spec files in canonical form (`--check`: only say which)."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from slpc import dsl

from .. import exits
from ..common import add_files
from ..formats import report_diagnostics
from ..io import IO
from ..pipeline import read_sources

NAME = "fmt"
HELP = "rewrite spec files in canonical form"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p)
    p.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    p.add_argument("--diff", action="store_true", help="with --check, print the changes as a unified diff")


def run(args: argparse.Namespace, io: IO) -> int:
    sources, diags = read_sources(args.files)
    changed, texts = [], {s.name: s.text for s in sources}
    for s in sources:
        parsed = dsl.parse(s.text, s.name)
        if not parsed.ok:
            diags += parsed.diagnostics
            continue
        new = dsl.format_spec(parsed.spec)
        if s.name == "<stdin>" and not args.check:
            io.out.write(new)
            continue
        if new == s.text:
            continue
        changed.append(s.name)
        if args.check:
            if args.diff:
                io.out.writelines(difflib.unified_diff(s.text.splitlines(True), new.splitlines(True),
                                                       s.name, s.name + " (formatted)"))
        else:
            Path(s.name).write_text(new, encoding="utf-8", newline="\n")
    if diags:
        report_diagnostics(diags, texts, "text", io)
        return exits.USAGE
    for name in changed:
        print(f"{'would reformat' if args.check else 'reformatted'} {name}", file=io.err)
    return exits.FINDINGS if (args.check and changed) else exits.OK
