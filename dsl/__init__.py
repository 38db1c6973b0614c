"""slpc.dsl: .slp source text -> typed AST, and AST -> canonical text.

Entry points: `parse` (text to `ast.Spec` plus diagnostics), `format_spec`
(the canonical text) and `source.read` (bytes checked before parsing).
Knows nothing of AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from slpc.diagnostics import Diagnostic, DiagnosticsError, Span, error
from .formatter import format_spec
from .shape import shape
from .syntax import parse_syntax

__all__ = ["ParseResult", "parse", "format_spec", "ast", "Diagnostic", "DiagnosticsError", "Span"]


@dataclass(frozen=True)
class ParseResult:
    spec: ast.Spec
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def parse(text: str, file: str = "<input>") -> ParseResult:
    """Parse one source file. Errors come back as diagnostics, never exceptions."""
    syntax = parse_syntax(text, file)
    diags = list(syntax.diagnostics)
    decls = shape(syntax.statements, diags)
    if diags and not syntax.statements and text.lstrip()[:1] in ("{", "[", "<", "-"):
        diags.append(error("E006", "this does not look like an .slp spec", Span(file, 1, 1, 1, 2),
                           "slpc compiles .slp files (see docs/language.md), not JSON, YAML or XML"))
    comments = tuple(ast.Comment(c.text, c.span) for c in syntax.comments)
    return ParseResult(ast.Spec(tuple(decls), comments, file), tuple(diags))
