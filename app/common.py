"""What several commands share: the spec-files argument, compiling them, and writing
an output directory with the error handling `compile` and `report` both need."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path
from typing import Callable, Sequence

from slpc.diagnostics import DiagnosticsError

from . import exits
from .formats import report_diagnostics
from .io import IO
from .output import write_tree
from .pipeline import Compiled, compile_sources, read_sources


def add_files(parser: argparse.ArgumentParser, metavar: str = "FILE",
              help: str = "spec files (one deployment); - reads stdin") -> None:
    parser.add_argument("files", nargs="+", metavar=metavar, help=help)


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (replaced atomically)")


def load(paths: Sequence[str], *, emit: bool = True) -> Compiled:
    """Read and compile the spec files; a file that cannot be read is a diagnostic.

    What a command compiled lives until it exits: the cyclic collector stays off
    while it compiles (millions of objects, freed by reference counting), and then
    everything is moved out of its sight (gc.freeze), where it would otherwise scan
    every object the compile made (0.3-0.45 s of CPU at 11,000 grants). Reference
    counting still frees what the command drops."""
    sources, diags = read_sources(paths)
    if diags:
        return Compiled(sources=sources, diagnostics=diags)
    enabled = gc.isenabled()
    gc.disable()
    try:
        compiled = compile_sources(sources, emit=emit)
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    return compiled


def on_compiled(args: argparse.Namespace, io: IO, run: Callable[[argparse.Namespace, IO, Compiled], int]) -> int:
    """Compile args.files in memory and hand the result to `run` (exit 2 on a bad spec)."""
    c = load(args.files)
    if not c.ok:
        report_diagnostics(c.diagnostics, c.texts, "text", io)
        return exits.USAGE
    return run(args, io, c)


def write(output: str, files: Callable[[], dict[str, str]], c: Compiled, fmt: str, io: IO) -> bool:
    """Build the output files (`files()`) and write them to `output` at once. False after
    printing the error (a bad input file, a refused or unwritable directory: exit 2),
    True once written."""
    try:
        write_tree(Path(output), files())
    except ValueError as exc:  # a bad --validation / --proof file or SOURCE_DATE_EPOCH (report)
        print(f"error: {exc}", file=io.err)
    except DiagnosticsError as exc:
        report_diagnostics(list(c.diagnostics) + list(exc.diagnostics), c.texts, fmt, io)
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror}", file=io.err)
    else:
        return True
    return False
