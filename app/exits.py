"""The exit codes of every `slpc` command (`slpc help exit-codes` prints them)."""

OK = 0  # success; warnings allowed
FINDINGS = 1  # fmt --check would reformat, lint-policy/validate found issues, prove refuted, diff widens
USAGE = 2  # a bad spec, bad usage, unreadable input, an unwritable output directory
INTERRUPTED = 130  # Ctrl-C
