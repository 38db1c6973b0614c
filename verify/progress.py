"""A `done/total` line for long commands (`slpc validate`, `slpc prove`), on a terminal only.

One rewritten stderr line, so logs and CI output (not terminals) stay free of it.
"""

from __future__ import annotations

from typing import TextIO


class Progress:
    """Call with (done, total): writes `\\r<label>: done/total <what>`, and a newline at the end."""

    def __init__(self, err: TextIO, label: str, what: str):
        self.err, self.label, self.what = err, label, what

    def __call__(self, done: int, total: int) -> None:
        self.err.write(f"\r{self.label}: {done}/{total} {self.what}" + ("\n" if done == total else ""))
        self.err.flush()


def is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
