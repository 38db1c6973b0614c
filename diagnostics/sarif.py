"""SARIF 2.1.0, the log format code-scanning UIs read; one envelope for every slpc report.

Diagnostics of `slpc check` and findings of `slpc lint-policy` are both written
through `log()`, so tools see one shape.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .core import Diagnostic

VERSION = "2.1.0"
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"  # an identifier, never fetched
LEVELS = {"error": "error", "warning": "warning"}


def rule(rule_id: str, text: str, level: str, properties: dict | None = None) -> dict:
    out = {"id": rule_id, "shortDescription": {"text": text}, "defaultConfiguration": {"level": level}}
    if properties:
        out["properties"] = properties
    return out


def result(rule_id: str, rule_index: int, level: str, message: str, uri: str | None,
           region: dict | None = None, logical: str | None = None, properties: dict | None = None) -> dict:
    location: dict = {}
    if uri is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": uri}}
        if region:
            location["physicalLocation"]["region"] = region
    if logical is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": logical, "kind": "member"}]
    out = {"ruleId": rule_id, "ruleIndex": rule_index, "level": level, "message": {"text": message},
           "locations": [location] if location else []}
    if properties:
        out["properties"] = properties
    return out


def log(tool: str, version: str, rules: Sequence[dict], results: Iterable[dict]) -> dict:
    return {"version": VERSION, "$schema": SCHEMA,
            "runs": [{"tool": {"driver": {"name": tool, "version": version, "rules": list(rules)}},
                      "results": list(results)}]}


def from_diagnostics(diags: Sequence[Diagnostic], tool: str, version: str) -> dict:
    """A SARIF log of slpc diagnostics: one rule per code, regions from spans."""
    codes = sorted({d.code for d in diags})
    first = {d.code: d for d in reversed(diags)}
    rules = [rule(c, first[c].message, LEVELS[first[c].severity]) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    results = []
    for d in diags:
        region = None
        if d.span is not None:
            s = d.span
            region = {"startLine": s.line, "startColumn": s.col, "endLine": s.end_line, "endColumn": s.end_col}
        text = d.message + (f" ({d.hint})" if d.hint else "")
        results.append(result(d.code, index[d.code], LEVELS[d.severity], text,
                              d.span.file if d.span else None, region))
    return log(tool, version, rules, results)
