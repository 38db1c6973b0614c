"""Audit settings, deployed against compiled, structurally (pure: no AWS).

CloudTrail selectors: a compiled advanced selector is logged when some trail has a
selector at most as narrow (each of its field conditions is one the compiled
selector implies); basic selectors are read as the advanced selectors AWS documents
them to be equivalent to. Logging more is not drift. EventBridge patterns must be
equal (a value list is a set, key order is free): anything missing or extra is
named with its path. GuardDuty: each compiled feature must be ENABLED on an
ENABLED detector; other features are the account's business.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

POSITIVE = ("Equals", "StartsWith", "EndsWith")
NEGATIVE = ("NotEquals", "NotStartsWith", "NotEndsWith")


def _conditions(selector: dict) -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], frozenset[str]] = {}
    for fs in selector.get("FieldSelectors") or []:
        for op in POSITIVE + NEGATIVE:
            if fs.get(op):
                out[(fs["Field"], op)] = frozenset(fs[op])
    return out


def covers(deployed: dict, compiled: dict) -> bool:
    """Whether `deployed` logs every event `compiled` selects: each deployed
    condition is implied by a compiled one on the same field and operator."""
    want = _conditions(compiled)
    for (fld, op), vals in _conditions(deployed).items():
        mine = want.get((fld, op))
        if mine is None:
            return False
        if (op in POSITIVE and not mine <= vals) or (op in NEGATIVE and not vals <= mine):
            return False
    return True


def from_basic(selectors: Iterable[dict]) -> list[dict]:
    """Basic EventSelectors as advanced ones (only ReadWriteType All logs everything
    the compiled selectors ask for; narrower basic selectors cover nothing here)."""
    out: list[dict] = []
    for s in selectors:
        if s.get("ReadWriteType", "All") != "All":
            continue
        if s.get("IncludeManagementEvents", True):
            out.append({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]})
        for dr in s.get("DataResources") or []:
            out.append({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                           {"Field": "resources.type", "Equals": [dr["Type"]]},
                                           {"Field": "resources.ARN", "StartsWith": list(dr.get("Values") or [])}]})
    return out


def missing_selectors(compiled: list[dict], trails: list[tuple[str, list[dict], list[dict]]]) -> list[str]:
    """Names of compiled selectors no trail logs."""
    deployed = [sel for _arn, adv, basic in trails for sel in adv + from_basic(basic)]
    return [c.get("Name") or json.dumps(c, sort_keys=True) for c in compiled
            if not any(covers(d, c) for d in deployed)]


def _key(v: Any) -> str:
    return json.dumps(_canon(v), sort_keys=True)


def _canon(v: Any) -> Any:
    """The value with every list sorted and de-duplicated (lists are sets in a pattern)."""
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json.loads(k) for k in sorted({_key(x) for x in v})]
    return v


def pattern_diff(want: Any, have: Any, path: str = "") -> list[str]:
    """What `have` lacks (missing) or adds (extra) against `want`, by path."""
    if isinstance(want, dict) and isinstance(have, dict):
        out = []
        for k in sorted(set(want) | set(have), key=str):
            sub = f"{path}.{k}" if path else k
            if k not in have:
                out.append(f"{sub} is missing")
            elif k not in want:
                out.append(f"{sub} is extra")
            else:
                out += pattern_diff(want[k], have[k], sub)
        return out
    if isinstance(want, list) and isinstance(have, list):
        a, b = {_key(x) for x in want}, {_key(x) for x in have}
        return [f"{path} lacks {k}" for k in sorted(a - b)] + [f"{path} has extra {k}" for k in sorted(b - a)]
    return [] if _key(want) == _key(have) else [f"{path} is {json.dumps(have)}, the spec says {json.dumps(want)}"]


def feature_problems(want: list[dict], detector: dict) -> list[str]:
    out = [] if detector.get("Status") == "ENABLED" else [f"the detector is {detector.get('Status')}"]
    have = {f.get("Name"): f.get("Status") for f in detector.get("Features") or []}
    for f in want:
        status = have.get(f["Name"])
        if status != f["Status"]:
            out.append(f"feature {f['Name']} is {status or 'not configured'}, the spec says {f['Status']}")
    return out
