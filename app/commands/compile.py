"""`slpc compile SPEC... -o DIR`: write the policy documents (and IaC) and the manifest.

Nothing is written unless the spec compiles (and, with --prove, every property holds);
the output directory is replaced atomically.
"""

from __future__ import annotations

import argparse

from slpc.targets import iac
from slpc.targets.manifest import dumps as manifest_dumps

from .. import exits
from ..common import add_files, add_output, load, write
from ..formats import DIAGNOSTICS, DIAGNOSTICS_HELP, add_format, report_diagnostics
from ..io import IO
from ..pipeline import Compiled
from .prove import proof_results

NAME = "compile"
HELP = "compile a spec into policy documents and a manifest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p)
    add_output(p)
    p.add_argument("--target", choices=iac.TARGETS, default="json",
                   help="json: the policy documents; terraform / cloudformation: IaC only; all: everything")
    p.add_argument("--prove", action="store_true",
                   help="first prove the eight properties of `slpc prove`; write nothing (exit 1) unless all hold")
    add_format(p, DIAGNOSTICS, DIAGNOSTICS_HELP)


def _proved(args: argparse.Namespace, io: IO, c: Compiled) -> bool:
    """--prove: the properties on the compiled policies before anything is written (the
    verdicts on stderr); False leaves the output directory alone."""
    from slpc.verify.prove import results as R

    results = proof_results(c, io)
    io.err.write(R.to_text(results, args.files))
    if R.all_proved(results):
        return True
    print(f"error: not every property was proved; nothing written to {args.output}", file=io.err)
    return False


def run(args: argparse.Namespace, io: IO) -> int:
    c = load(args.files)
    if not c.ok:
        report_diagnostics(c.diagnostics, c.texts, args.format, io)
        return exits.USAGE
    if args.prove and not _proved(args, io, c):
        return exits.FINDINGS

    def files() -> dict[str, str]:
        out = iac.render(args.target, c.model, c.artifacts)
        if args.target in ("json", "all"):
            out.update({a.path: a.text for a in c.artifacts})
        out["manifest.json"] = manifest_dumps(c.manifest(written=args.target in ("json", "all")))
        return out

    if not write(args.output, files, c, args.format, io):
        return exits.USAGE
    coarser = [a for a in c.artifacts if a.coarser]
    report_diagnostics(c.diagnostics, c.texts, args.format, io, {
        "output": args.output, "artifacts": len(c.artifacts),
        "coarser": [{"artifact": a.path, "name": a.name, "how": a.coarser} for a in coarser]})
    if args.format == "text":
        print(f"wrote {len(c.artifacts)} artifacts and manifest.json to {args.output}", file=io.out)
        for a in coarser:  # never silently: each layer that is coarser than the spec, by asset
            print(f"coarser than the spec: {a.path} ({a.name}) {a.coarser}", file=io.out)
    return exits.OK
