"""Diagnostics: a span in a source file, a message, and a hint.

Every stage reports user errors through these types, so the CLI can render them
the same way (rustc/Cedar style, with the offending line and a caret) or as JSON.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence


# The one severity vocabulary: compile diagnostics are errors or warnings; lint and
# live findings use the same words, plus "note" (SARIF's levels).
ERROR, WARNING, NOTE = "error", "warning", "note"
LEVELS = (ERROR, WARNING, NOTE)


class Span(NamedTuple):
    """A half-open region of one source file; lines and columns count from 1. A
    named tuple: the parser makes one per token (118,000 at 11,000 grants)."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def to(self, other: "Span") -> "Span":
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # ERROR | WARNING
    code: str  # stable id, e.g. "E201"
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def error(code: str, message: str, span: Span | None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(ERROR, code, message, span, hint)


def warning(code: str, message: str, span: Span | None, hint: str | None = None) -> Diagnostic:
    return Diagnostic(WARNING, code, message, span, hint)


class DiagnosticsError(Exception):
    """Raised by a stage that cannot go on; carries everything it found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = tuple(diagnostics)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or None."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


# --------------------------------------------------------------------------- #
# Rendering


def render(diag: Diagnostic, sources: dict[str, str]) -> str:
    """Human text: `file:line:col: error[CODE]: message`, the line, a caret, help."""
    head = f"{diag.severity}[{diag.code}]: {diag.message}"
    if diag.span is None:
        lines = [head]
    else:
        s = diag.span
        lines = [f"{s.file}:{s.line}:{s.col}: {head}"]
        text = sources.get(s.file)
        if text is not None:
            src_lines = text.split("\n")
            if 1 <= s.line <= len(src_lines):
                src = src_lines[s.line - 1].expandtabs(1)
                gutter = str(s.line)
                pad = " " * len(gutter)
                end = s.end_col if s.end_line == s.line else len(src) + 1
                width = max(1, end - s.col)
                lines += [
                    f"{pad} |",
                    f"{gutter} | {src}",
                    f"{pad} | {' ' * (s.col - 1)}{'^' * width}",
                ]
    for note in diag.notes:
        lines.append(f"  = note: {note}")
    if diag.hint:
        lines.append(f"  = help: {diag.hint}")
    return "\n".join(lines)


def to_json(diag: Diagnostic) -> dict:
    out: dict = {"severity": diag.severity, "code": diag.code, "message": diag.message}
    if diag.span is not None:
        s = diag.span
        out["file"] = s.file
        out["range"] = {
            "start": {"line": s.line, "column": s.col},
            "end": {"line": s.end_line, "column": s.end_col},
        }
    if diag.hint:
        out["hint"] = diag.hint
    if diag.notes:
        out["notes"] = list(diag.notes)
    return out


def sort_key(diag: Diagnostic) -> tuple:
    s = diag.span
    return (s.file, s.line, s.col, diag.code) if s else ("", 0, 0, diag.code)
