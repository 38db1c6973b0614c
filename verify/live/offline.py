"""The offline validator (slpc.verify.lint) on every compiled policy, as validate findings.

Its checks carry Access Analyzer's issue codes, so its findings merge with
ValidatePolicy's (`findings.merge_policy_findings`).
"""

from __future__ import annotations

from slpc.policy.kinds import LINT_TYPES
from slpc.verify.lint import lint

from .findings import LINT, SOURCE_LINT, Finding


def lint_findings(artifacts) -> list[Finding]:
    out: list[Finding] = []
    for art in artifacts:
        if art.document is None or art.kind not in LINT_TYPES:
            continue
        ptype, rtype = LINT_TYPES[art.kind]
        for f in lint(art.text, ptype, rtype):
            out.append(Finding(LINT, art.path, art.target, f"{f.finding_type.value} {f.issue_code} at {f.path}: "
                                                           f"{f.message}",
                               level=f.finding_type.level, source=SOURCE_LINT, code=f.issue_code,
                               sids=(f.sid,) if f.sid else (), statement=f.statement_index))
    return out
