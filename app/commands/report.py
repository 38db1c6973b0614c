"""`slpc report SPEC... -o DIR`: the audit evidence pack (report.html, report.md,
evidence.json and the artifacts they cite); docs/report.md."""

from __future__ import annotations

import argparse

from slpc import report

from .. import exits
from ..common import add_files, add_output, load, write
from ..formats import report_diagnostics
from ..io import IO
from .prove import proof_results

NAME = "report"
HELP = "write the audit evidence pack: report.html, report.md, evidence.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p)
    add_output(p)
    p.add_argument("--validation", metavar="FILE", help="results of `slpc validate --format json` to include")
    proof = p.add_mutually_exclusive_group()
    proof.add_argument("--proof", metavar="FILE", help="results of `slpc prove --format json` on this spec to include")
    proof.add_argument("--prove", action="store_true", help="run `slpc prove` on the compiled policies and include it")


def run(args: argparse.Namespace, io: IO) -> int:
    c = load(args.files)
    if not c.ok:
        report_diagnostics(c.diagnostics, c.texts, "text", io)
        return exits.USAGE

    def files() -> dict[str, str]:
        proved = None
        if args.prove:  # the prover in-process, read back through the same JSON a --proof file holds
            from slpc.verify.prove import results as R

            proved = R.to_json(proof_results(c, io, progress=False), args.files, c.manifest(written=False)["source_sha256"])
        return report.pack(c.model, c.artifacts, [(s.name, s.data) for s in c.sources],
                           validation_file=args.validation, proof_file=args.proof, proof_results=proved)

    if not write(args.output, files, c, "text", io):
        return exits.USAGE
    report_diagnostics(c.diagnostics, c.texts, "text", io)
    print(f"wrote report.html, report.md and evidence.json (with the artifacts they cite) to {args.output}",
          file=io.out)
    return exits.OK
