"""slpc.diagnostics: the one way every stage reports a problem to the user.

A `Diagnostic` (a code, a span, a message, a hint), its renderings (text with a
caret, JSON, SARIF) and the catalogue of codes. Below every stage: the syntax,
the compiler, the targets and the verifiers all report through it, and none of
them has to import another stage to do so.
"""

from .core import (ERROR, LEVELS, NOTE, WARNING, Diagnostic, DiagnosticsError, Span, did_you_mean, error, render,
                   sort_key, to_json, warning)

__all__ = ["ERROR", "LEVELS", "NOTE", "WARNING", "Diagnostic", "DiagnosticsError", "Span", "did_you_mean", "error",
           "render", "sort_key", "to_json", "warning"]
