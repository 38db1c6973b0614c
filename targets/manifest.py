"""The manifest: the public contract between compile and everything downstream.

Documented in docs/manifest.md; bump MANIFEST_VERSION on any incompatible change.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from slpc import __version__
from slpc.policy.document import pretty

MANIFEST_VERSION = 1


def manifest(artifacts: Sequence, sources: Sequence[tuple[str, bytes]]) -> dict:
    """`sources` are (name as given, bytes) in command-line order."""
    whole = hashlib.sha256(b"".join(data for _, data in sources)).hexdigest()
    return {
        "manifest_version": MANIFEST_VERSION,
        "slpc_version": __version__,
        "source_sha256": whole,
        "sources": [{"path": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in sources],
        "artifacts": [
            {"kind": a.kind, "name": a.name, "target": a.target, "account": a.account,
             "path": a.path, "sha256": a.sha256, **({"coarser": a.coarser} if a.coarser else {}),
             **({"within": a.within} if a.within else {})}
            for a in sorted(artifacts, key=lambda a: a.path)
        ],
    }


def dumps(data: dict) -> str:
    """json.dumps(data, indent=2, sort_keys=True) (non-ASCII as \\u escapes, docs/manifest.md),
    without the standard library's pure-Python encoder that indenting falls back to (0.2 s
    for a 13,000-artifact manifest)."""
    return pretty(data, ascii=True)
