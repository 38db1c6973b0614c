"""The control catalogue (controls.yaml): which artifacts and Sids implement each
control, the clauses it serves, the `slpc prove` properties that check it, and
how far it is verified.

The mapping is data, kept in one file a compliance person can read and extend;
this module only resolves its selectors against the built artifacts, so adding a
control or a clause needs no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Sequence

import yaml

CATALOGUE_FILE = Path(__file__).resolve().parent / "controls.yaml"


@dataclass(frozen=True)
class Selector:
    kind: str
    sids: tuple[str, ...] = ()  # glob patterns; empty: the whole artifact
    names: tuple[str, ...] = ()  # glob patterns over the artifact's declared name

    def matches(self, artifact) -> tuple[bool, tuple[str, ...]]:
        """(does this artifact implement the control, which of its Sids do)."""
        if artifact.kind != self.kind or (self.names and not any(fnmatchcase(artifact.name, n) for n in self.names)):
            return False, ()
        all_sids = statement_sids(artifact)
        if not self.sids:
            return True, all_sids
        hit = tuple(s for s in all_sids if any(fnmatchcase(s, p) for p in self.sids))
        return bool(hit), hit


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    description: str
    implemented_by: tuple[Selector, ...]
    tests: tuple[str, ...]
    frameworks: dict[str, tuple[str, ...]]
    proofs: tuple[int, ...] = ()  # the `slpc prove` property numbers that check it


@dataclass(frozen=True)
class Catalogue:
    note: str
    frameworks: dict  # id -> {"title": str, "clauses": {clause id: summary}}
    controls: tuple[Control, ...]


def statement_sids(artifact) -> tuple[str, ...]:
    if artifact.document is None:
        return ()
    return tuple(s.sid for s in artifact.document.statements if s.sid)


def load(path: Path = CATALOGUE_FILE) -> Catalogue:
    """Read and check the catalogue; ValueError names the first problem."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    frameworks = raw["frameworks"]
    controls, seen = [], set()
    for c in raw["controls"]:
        if c["id"] in seen:
            raise ValueError(f"{path.name}: control {c['id']} is listed twice")
        seen.add(c["id"])
        for fw, clauses in c["frameworks"].items():
            unknown = [x for x in clauses if x not in frameworks.get(fw, {}).get("clauses", {})]
            if unknown:
                raise ValueError(f"{path.name}: control {c['id']} cites {fw} {unknown}, not listed under frameworks")
        proofs = c.get("proofs", [])
        if (not isinstance(proofs, list) or len(set(proofs)) != len(proofs)
                or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in proofs)):
            raise ValueError(f"{path.name}: control {c['id']}: proofs must list distinct property numbers")
        controls.append(Control(
            c["id"], c["title"], " ".join(c["description"].split()),
            tuple(Selector(s["kind"], tuple(s.get("sids", ())), tuple(s.get("names", ()))) for s in c["implemented_by"]),
            tuple(c.get("tests", ())),
            {fw: tuple(v) for fw, v in c["frameworks"].items()},
            tuple(proofs),
        ))
    return Catalogue(" ".join(raw["note"].split()), frameworks, tuple(controls))


def implementation(control: Control, artifacts: Sequence) -> list[dict]:
    """The artifacts (by path) implementing a control, with the Sids that do."""
    out = {}
    for art in artifacts:
        for sel in control.implemented_by:
            ok, sids = sel.matches(art)
            if ok:
                entry = out.setdefault(art.path, {"path": art.path, "kind": art.kind, "name": art.name,
                                                  "sha256": art.sha256, "sids": set()})
                entry["sids"].update(sids)
    return [{**e, "sids": sorted(e["sids"])} for _, e in sorted(out.items())]
