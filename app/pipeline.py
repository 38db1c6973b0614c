"""The pipeline: sources -> ASTs -> Model -> artifacts -> offline validation, collecting diagnostics.

The only code that chains every stage. Library users (tests,
`slpc explain`, `slpc validate`) call `compile_sources` to get everything in memory.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Sequence

from slpc import dsl
from slpc.dsl import source as dsl_source
from slpc.diagnostics import Diagnostic, DiagnosticsError, error, sort_key, warning
from slpc.targets import Artifact, build
from slpc.targets.manifest import manifest
from slpc.policy.kinds import LINT_TYPES
from slpc.verify.lint import REGISTRY, FindingType, lint
from slpc.verify.lint.size import IDENTITY, RCP, RESOURCE, ROLE_TRUST_QUOTA, SCP

from slpc.compiler.check import check
from slpc.compiler.model import Model


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

    def manifest(self, written: bool = True) -> dict:
        """The manifest; with `written=False` (IaC-only output) it lists no JSON artifacts."""
        with rare_collections():
            return manifest(self.artifacts if written else (), [(s.name, s.data) for s in self.sources])


_BLOCKING = (FindingType.ERROR, FindingType.SECURITY_WARNING)
# The build measures every policy against slpc.policy.limits, the table these checks
# read, and fits or refuses it (E501, E502); the checks would only repeat that, and
# they hold an inline policy to the managed-policy limit, not to the role's 10,240.
_MEASURED = {IDENTITY, RESOURCE, ROLE_TRUST_QUOTA, SCP, RCP}
# A check's findings all have its type, so the checks whose findings the build would
# drop (suggestions, sizes) are not run: a fifth of the lint's time at 1,200 teams.
_KEPT = tuple(c for c in REGISTRY.values() if c.finding_type != FindingType.SUGGESTION and c.id not in _MEASURED)


def offline_validate(artifacts: Sequence[Artifact]) -> list[Diagnostic]:
    """Run the offline validator on every artifact: ERROR and SECURITY_WARNING findings
    block the output (slpc never writes a policy it would itself flag), WARNINGs are shown."""
    diags = []
    # One build writes some policies more than once (a tenth of them at 1,200 teams):
    # a policy's findings depend only on its text and types.
    findings: dict[tuple, list] = {}
    for art in artifacts:
        if art.kind not in LINT_TYPES:
            continue  # settings documents are not policies
        key = (art.text, *LINT_TYPES[art.kind])
        if key not in findings:
            findings[key] = lint(*key, checks=_KEPT)
        for f in findings[key]:
            make = error if f.finding_type in _BLOCKING else warning
            sid = f" ({f.sid})" if f.sid else ""
            diags.append(make("E520" if make is error else "W520",
                              f"{art.path}: {f.finding_type.value} {f.issue_code} at {f.path}{sid}: {f.message}", None,
                              "this is a bug in slpc: please report it with the spec"))
    return diags


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


@contextmanager
def rare_collections() -> Iterator[None]:
    """A compile allocates millions of small objects and frees them by reference
    counting (no cycles); with the default thresholds the cyclic collector rescans
    them over and over (a quarter of the time at 10,000 grants). It runs rarely
    during a compile, and as before afterwards. Building the manifest and writing
    the output use it too: with the default thresholds their tens of thousands of
    new objects would start a full collection of everything the compile left (0.4 s
    at 10,000 grants)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def compile_sources(sources: Sequence[dsl_source.Source], *, emit: bool = True,
                    now: datetime | None = None) -> Compiled:
    """Run every stage that the diagnostics so far allow; stop at the first stage with errors."""
    with rare_collections():
        return _compile(sources, emit, now)


def _compile(sources: Sequence[dsl_source.Source], emit: bool, now: datetime | None) -> Compiled:
    out = Compiled(sources=list(sources))
    out.specs, out.diagnostics = parse_sources(sources)
    if out.ok:
        checked = check(out.specs, now=now)
        out.diagnostics += checked.diagnostics
        out.model = checked.model
    if out.ok and out.model is not None and emit:
        built = build(out.model)
        out.model = built.model  # every bucket's addressing resolved, as built
        out.diagnostics += built.diagnostics
        out.artifacts = built.artifacts
        out.diagnostics += offline_validate(built.artifacts)
    out.diagnostics.sort(key=sort_key)
    return out


def compile_text(text: str, name: str = "<input>", **kw) -> Compiled:
    """Compile one in-memory spec (tests and tools)."""
    return compile_sources([dsl_source.decode(name, text.encode("utf-8"))], **kw)
