"""slpc.report: the audit evidence pack (`slpc report`).

`build_report(model, artifacts, sources, ...)` gives the evidence as plain data;
`render(evidence)` lays it out as report.html, report.md and evidence.json;
`pack(...)` is what the command writes.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from slpc.targets.manifest import dumps as manifest_dumps, manifest

from . import proof, validation
from .evidence import build as build_report, timestamp
from .render import render

__all__ = ["build_report", "render", "pack"]


def pack(model, artifacts: Sequence, sources: Sequence[tuple[str, bytes]], *, validation_file: str | None = None,
         proof_file: str | None = None, proof_results: dict | None = None,
         environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Every file of the report directory: the three report files, plus the compiled
    artifacts and their manifest, so an auditor can check each SHA-256 the report
    cites (and slpc recognises the directory as its own when replacing it).
    `proof_results` is the prover's JSON from an in-process run; `proof_file` reads it saved.
    ValueError (one line) for a bad --validation or --proof file or SOURCE_DATE_EPOCH."""
    results = validation.load(validation_file) if validation_file else None
    when, source = timestamp(environ)
    if proof_results is not None:
        proved = proof.from_results(proof_results, manifest((), sources)["source_sha256"])
    else:
        proved = proof.load(proof_file, manifest((), sources)["source_sha256"]) if proof_file else None
    files = render(build_report(model, artifacts, sources, generated_at=when, timestamp_source=source,
                                validation=results, proof=proved))
    files.update({a.path: a.text for a in artifacts})
    files["manifest.json"] = manifest_dumps(manifest(artifacts, sources))
    return files
