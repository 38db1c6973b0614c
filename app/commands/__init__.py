"""The commands, in the order `slpc --help` lists them. Each module has `NAME`, `HELP`,
`add_arguments(parser)` and `run(args, io) -> exit code`.

Modules are imported on demand (`load`): a run of one command then imports only
what that command needs (a third of `slpc compile`'s start-up otherwise)."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

# command name -> module, in `slpc --help` order
MODULES = {"compile": "compile", "check": "check", "fmt": "fmt", "explain": "explain", "prove": "prove",
           "diff": "diff", "help": "help", "validate": "validate", "import": "import_", "report": "report",
           "lint-policy": "lint_policy"}


def load(name: str) -> ModuleType:
    return import_module(f"{__name__}.{MODULES[name]}")
