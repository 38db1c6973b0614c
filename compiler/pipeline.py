"""The driver's pipeline: sources -> ASTs -> Model -> artifacts, collecting diagnostics.

With cli.py, the only code that imports every stage. Library users (tests,
`slpc explain`, `slpc validate`) call `compile_sources` to get everything in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from slpc import dsl
from slpc.dsl import source as dsl_source
from slpc.dsl.diagnostics import Diagnostic, DiagnosticsError, sort_key
from slpc.targets import Artifact, build
from slpc.targets.manifest import manifest

from .check import check
from .model import Model


@dataclass
class Compiled:
    sources: list[dsl_source.Source] = field(default_factory=list)
    specs: list[dsl.ast.Spec] = field(default_factory=list)
    model: Model | None = None
    artifacts: tuple[Artifact, ...] = ()
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def texts(self) -> dict[str, str]:
        return {s.name: s.text for s in self.sources}

    def manifest(self) -> dict:
        return manifest(self.artifacts, [(s.name, s.data) for s in self.sources])


def read_sources(paths: Sequence[str]) -> tuple[list[dsl_source.Source], list[Diagnostic]]:
    sources, diags = [], []
    for p in paths:
        try:
            sources.append(dsl_source.read(p))
        except DiagnosticsError as exc:
            diags += exc.diagnostics
    return sources, diags


def parse_sources(sources: Sequence[dsl_source.Source]) -> tuple[list[dsl.ast.Spec], list[Diagnostic]]:
    specs, diags = [], []
    for s in sources:
        result = dsl.parse(s.text, s.name)
        specs.append(result.spec)
        diags += result.diagnostics
    return specs, diags


def compile_sources(sources: Sequence[dsl_source.Source], *, emit: bool = True,
                    now: datetime | None = None) -> Compiled:
    """Run every stage that the diagnostics so far allow; stop at the first stage with errors."""
    out = Compiled(sources=list(sources))
    out.specs, out.diagnostics = parse_sources(sources)
    if out.ok:
        checked = check(out.specs, now=now)
        out.diagnostics += checked.diagnostics
        out.model = checked.model
    if out.ok and out.model is not None and emit:
        built = build(out.model)
        out.diagnostics += built.diagnostics
        out.artifacts = built.artifacts
    out.diagnostics.sort(key=sort_key)
    return out


def compile_text(text: str, name: str = "<input>", **kw) -> Compiled:
    """Compile one in-memory spec (tests and tools)."""
    return compile_sources([dsl_source.decode(name, text.encode("utf-8"))], **kw)
