"""slpc.app: the `slpc` command line, on top of every stage; nothing imports it.

Every command is one module of `slpc.app.commands` with the same small protocol:
`NAME`, `HELP`, `add_arguments(parser)` and `run(args, io) -> exit code`. Commands
call the stages' library functions and never another command's argparse. Exit codes
are in `exits`, the `--format` option and diagnostics output in `formats`.
"""
