"""The `slpc` command line: one sub-command per module of `slpc.app.commands`.

Exit codes are in `slpc.app.exits`. Users never see a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from slpc import __version__

from . import exits
from .commands import MODULES, load
from .io import IO


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, just that command's sub-parser (its usage, help and
    errors read the same), so that only its module is imported."""
    p = argparse.ArgumentParser(prog="slpc", description="The sovereign LLM policy compiler.")
    p.add_argument("--version", action="version", version=f"slpc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in ([only] if only else MODULES):
        command = load(name)
        sp = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(sp)
        sp.set_defaults(run=command.run, top_parser=p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # `help` prints the whole command list: it needs every command
    only = argv[0] if argv and argv[0] in MODULES and argv[0] != "help" else None
    args = parser(only).parse_args(argv)
    try:
        return args.run(args, IO())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exits.INTERRUPTED
    except BrokenPipeError:
        return exits.OK


if __name__ == "__main__":
    sys.exit(main())
