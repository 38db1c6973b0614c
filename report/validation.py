"""Reading a `slpc validate --format json` file for the report, and what it says
about each control's artifacts.

Only the fields the report needs are read (docs/validate.md, JSON version 2:
`findings[]` with `artifact`, `severity`, `resource`...; `checked[]`; `skipped[]`);
anything else in the file is ignored, so newer validate output stays readable. The
evidence keeps its own names for two of them (`level` for severity, `target` for the
resource), which its schema fixes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

_FINDING_FIELDS = ("kind", "artifact", "target", "level", "source", "code", "message")
# evidence field -> the field of `slpc validate --format json` (version 2) it comes from
_RENAMED = {"level": "severity", "target": "resource"}


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string")
    return value


def load(path: str) -> dict:
    """The validation results as plain data; ValueError (one line) if unusable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"--validation {path}: cannot read it: {exc.strerror}") from None
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"--validation {path}: not JSON ({exc}); expected the output of `slpc validate --format json`") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list) or not isinstance(raw.get("checked"), list):
        raise ValueError(f"--validation {path}: no `findings` and `checked` lists; "
                         "expected the output of `slpc validate --format json`")
    findings = []
    for i, f in enumerate(raw["findings"]):
        if not isinstance(f, dict):
            raise ValueError(f"--validation {path}: findings[{i}] is not an object")
        item = {k: _text(f.get(_RENAMED.get(k, k), ""), f"--validation {path}: findings[{i}].{_RENAMED.get(k, k)}")
                for k in _FINDING_FIELDS}
        if not item["artifact"] or not item["level"]:
            raise ValueError(f"--validation {path}: findings[{i}] has no `artifact` or `severity`")
        sids = f.get("sids") or []
        if not isinstance(sids, list):
            raise ValueError(f"--validation {path}: findings[{i}].sids must be a list")
        item["sids"] = [_text(s, f"--validation {path}: findings[{i}].sids") for s in sids]
        findings.append(item)
    checked = [_text(c, f"--validation {path}: checked[{i}]") for i, c in enumerate(raw["checked"])]
    skipped = []
    for i, s in enumerate(raw.get("skipped") or []):
        if not isinstance(s, dict):
            raise ValueError(f"--validation {path}: skipped[{i}] is not an object")
        skipped.append({"artifact": _text(s.get("artifact"), f"--validation {path}: skipped[{i}].artifact"),
                        "reason": _text(s.get("reason", ""), f"--validation {path}: skipped[{i}].reason")})
    in_sync = raw.get("in_sync")
    return {"file": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "in_sync": in_sync if isinstance(in_sync, bool) else None,
            "findings": sorted(findings, key=lambda f: (f["artifact"], f["code"], f["message"])),
            "checked": sorted(set(checked)), "skipped": sorted(skipped, key=lambda s: s["artifact"])}


def status(validation: dict | None, paths: list[str]) -> dict:
    """The live verdict on a set of artifact paths."""
    if validation is None:
        return {"status": "not-run", "detail": "no --validation file given"}
    mine = set(paths)
    findings = [f for f in validation["findings"] if f["artifact"] in mine and f["level"] != "note"]
    checked = sorted(mine & set(validation["checked"]))
    skipped = sorted(mine & {s["artifact"] for s in validation["skipped"]})
    if findings:
        return {"status": "findings", "detail": f"{len(findings)} finding(s) on "
                f"{len({f['artifact'] for f in findings})} artifact(s)", "findings": findings}
    if checked and len(checked) == len(mine):
        return {"status": "in-sync", "detail": f"{len(checked)} artifact(s) deployed as compiled"}
    unchecked = len(mine) - len(checked)
    why = f" ({len(skipped)} skipped by slpc validate)" if skipped else ""
    return {"status": "partial" if checked else "not-checked",
            "detail": f"{len(checked)} of {len(mine)} artifact(s) checked, {unchecked} not{why}"}
