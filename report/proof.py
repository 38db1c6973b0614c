"""Proof results for the report: a `slpc prove --format json` file (`--proof`), or
the same JSON from the prover run in-process (`--prove`), and what they say about each control.

Both ways read the same JSON (docs/prove.md), so a saved file and an in-process
run cannot be reported differently. A file must carry the `source_sha256` of the
spec being reported (as manifest.json computes it): a proof of another spec, or
of an older version of this one, is refused rather than shown.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

PROVED, REFUTED, UNKNOWN, NOT_RUN = "proved", "refuted", "unknown", "not-run"
_EXPECTED = "expected the output of `slpc prove --format json`"


def _check(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise ValueError(f"{where}: {problem}; {_EXPECTED}")


def _strs(value, where: str, field: str) -> list[str]:
    _check(isinstance(value, list) and all(isinstance(v, str) for v in value), where, f"{field} is not a list of strings")
    return list(value)


def _property(p, where: str) -> dict:
    _check(isinstance(p, dict), where, "a property is not an object")
    n = p.get("number")
    _check(isinstance(n, int) and not isinstance(n, bool), where, "a property has no whole `number`")
    at = f"{where}: property {n}"
    _check(isinstance(p.get("name"), str), at, "`name` is not a string")
    _check(p.get("verdict") in (PROVED, REFUTED, UNKNOWN), at, "`verdict` is not proved, refuted or unknown")
    cex = p.get("counterexample")
    _check(cex is None or (isinstance(cex, dict) and isinstance(cex.get("explain"), str)), at,
           "`counterexample` has no `explain` line")
    unknown = p.get("unknown", [])
    _check(isinstance(unknown, list) and all(isinstance(u, dict) and isinstance(u.get("note"), str)
                                             and isinstance(u.get("query"), str) for u in unknown),
           at, "`unknown` is not a list of {query, note}")
    out = {"number": n, "name": p["name"], "verdict": p["verdict"], "explain": cex["explain"] if cex else None,
           "problems": _strs(p.get("problems", []), at, "`problems`"),
           "unknown": [f"{u['query']}: {u['note']}" for u in unknown]}
    _check(out["verdict"] != PROVED or not (cex or out["problems"] or unknown), at,
           "is `proved` but carries a counterexample, problems or unknown queries")
    return out


def parse(data: bytes, where: str, source_sha256: str) -> dict:
    """The proof results as plain data; ValueError (one line) if unusable or of another spec."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not JSON ({exc}); {_EXPECTED}") from None
    _check(isinstance(raw, dict) and isinstance(raw.get("properties"), list), where, "no `properties` list")
    _check(isinstance(raw.get("source_sha256"), str), where,
           "no `source_sha256` (made by an slpc prove that predates it? run it again)")
    if raw["source_sha256"] != source_sha256:
        raise ValueError(f"{where}: proves another spec (source_sha256 {raw['source_sha256'][:16]}…, "
                         f"this spec {source_sha256[:16]}…); run `slpc prove` on this spec again")
    props = [_property(p, where) for p in raw["properties"]]
    numbers = [p["number"] for p in props]
    _check(len(set(numbers)) == len(numbers), where, "a property number is listed twice")
    universe = raw.get("universe", "")
    _check(isinstance(universe, str), where, "`universe` is not a string")
    return {"universe": universe, "properties": sorted(props, key=lambda p: p["number"])}


def load(path: str, source_sha256: str) -> dict:
    """`--proof FILE`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"--proof {path}: cannot read it: {exc.strerror}") from None
    return {"file": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            **parse(data, f"--proof {path}", source_sha256)}


def from_results(data: dict, source_sha256: str) -> dict:
    """`--prove`: the prover's JSON from an in-process run, read as a file would be."""
    # no file, so no SHA-256: the JSON holds the solver's timings, which would make reports differ
    return {"file": None, "sha256": None, **parse(json.dumps(data).encode(), "--prove", source_sha256)}


def status(proof: dict | None, numbers: Sequence[int]) -> dict:
    """One control's proof verdict: proved only if every property mapped to it was
    proved on this spec; a property the results do not list counts as not run."""
    if not numbers:
        return {"status": "not-applicable", "detail": "no property of slpc prove covers this control",
                "properties": []}
    if proof is None:
        return {"status": NOT_RUN, "detail": "no --proof file or --prove given", "properties": []}
    given = {p["number"]: p for p in proof["properties"]}
    props = [given.get(n) or {"number": n, "name": "", "verdict": NOT_RUN, "explain": None, "problems": [],
                              "unknown": ["not in the proof results"]} for n in numbers]
    verdicts = {p["verdict"] for p in props}
    worst = next(v for v in (REFUTED, UNKNOWN, NOT_RUN, PROVED) if v in verdicts)
    detail = "; ".join(f"{v}: {', '.join(str(p['number']) for p in props if p['verdict'] == v)}"
                       for v in (PROVED, REFUTED, UNKNOWN, NOT_RUN) if v in verdicts)
    return {"status": worst, "detail": f"properties {detail}", "properties": props}
