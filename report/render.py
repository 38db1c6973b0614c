"""The report's files from the evidence: evidence.json, report.md, report.html."""

from __future__ import annotations

import json

from . import html, markdown


def evidence_json(evidence: dict) -> str:
    return json.dumps(evidence, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render(evidence: dict) -> dict[str, str]:
    return {"evidence.json": evidence_json(evidence), "report.md": markdown.render(evidence),
            "report.html": html.render(evidence)}
