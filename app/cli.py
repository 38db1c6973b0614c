"""The `slpc` command line: one sub-command per module of `slpc.app.commands`.

Exit codes are in `slpc.app.exits`. Users never see a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from slpc import __version__

from . import exits
from .commands import COMMANDS
from .io import IO


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slpc", description="The sovereign LLM policy compiler.")
    p.add_argument("--version", action="version", version=f"slpc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sp = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(sp)
        sp.set_defaults(run=command.run, top_parser=p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args, IO())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exits.INTERRUPTED
    except BrokenPipeError:
        return exits.OK


if __name__ == "__main__":
    sys.exit(main())
