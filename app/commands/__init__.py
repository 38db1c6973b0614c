"""The commands, in the order `slpc --help` lists them. Each module has `NAME`, `HELP`,
`add_arguments(parser)` and `run(args, io) -> exit code`."""

from . import check, compile, diff, explain, fmt, help, lint_policy, prove, report, validate

COMMANDS = (compile, check, fmt, explain, prove, diff, help, validate, report, lint_policy)
