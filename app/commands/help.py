"""`slpc help TOPIC`: short references printed from the data slpc itself uses."""

from __future__ import annotations

import argparse

from slpc.compiler import verbs as V
from slpc.diagnostics import did_you_mean
from slpc.report import controls

from .. import exits
from ..io import IO

NAME = "help"

TOPICS = ("verbs", "exit-codes", "formats", "prove", "report")


def verbs() -> str:
    lines = ["Verbs (asset kind, verb: exact AWS actions)", ""]
    for (kind, name), verb in V.VERBS.items():
        lines.append(f"  {kind:<10} {name:<7} {verb.doc}")
        for action, scope in verb.actions:
            lines.append(f"      {action:<45} [{scope}]")
    return "\n".join(lines)


def exit_codes() -> str:
    return "\n".join([
        "Exit codes",
        f"  {exits.OK}  success (warnings allowed)",
        f"  {exits.FINDINGS}  findings: `fmt --check` would reformat, `lint-policy` found issues,",
        "     `explain` found the policies disagree with the spec,",
        "     `prove` found a property refuted or unknown",
        f"  {exits.USAGE}  user error: a bad spec, bad usage, an unwritable output directory",
    ])


def formats() -> str:
    return "\n".join([
        "Output formats",
        "  check, compile:  --format text | json | sarif (SARIF 2.1.0 for code-scanning UIs)",
        "  lint-policy:     --format text | json | sarif",
        "  explain, prove:  --format text | json",
        "  import:          --format text | json (the inventory summary; the draft goes to -o FILE)",
        "  report:          report.html, report.md and evidence.json in -o DIR",
    ])


def prove() -> str:
    from slpc.verify.prove.properties import PROPERTIES  # loads Z3 (a heavy library): only for this topic

    lines = ["slpc prove SPEC... [--policies DIR] [--format text|json] [--timeout-ms N]",
             "Each property is proved, refuted (with an `slpc explain` line replaying the",
             "counterexample) or unknown (never counted as proved). Properties:", ""]
    lines += [f"  {p.number}  {p.name}: {p.claim}" for p in PROPERTIES]
    return "\n".join(lines + ["", "More: docs/prove.md"])


def report() -> str:
    lines = ["slpc report SPEC... -o DIR [--validation FILE] [--proof FILE | --prove]",
             "  --validation  `slpc validate --format json` results (live status per control)",
             "  --proof       `slpc prove --format json` results of this spec (refused if of another)",
             "  --prove       run the prover now instead",
             "A control shows proved only if every property it maps to was proved. Controls",
             "and the `slpc prove` properties they map to (report/controls.yaml):", ""]
    lines += [f"  {c.id:<15} {', '.join(map(str, c.proofs)) or '-':<11} {c.title}" for c in controls.load().controls]
    return "\n".join(lines + ["", "More: docs/report.md"])


def topic(name: str) -> str | None:
    return {"verbs": verbs, "exit-codes": exit_codes, "formats": formats, "prove": prove,
            "report": report}.get(name, lambda: None)()


HELP = "short references: " + ", ".join(TOPICS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", nargs="?", help="one of: " + ", ".join(TOPICS))


def run(args: argparse.Namespace, io: IO) -> int:
    if args.topic is None:
        args.top_parser.print_help(io.out)
        print("\nhelp topics: " + ", ".join(TOPICS), file=io.out)
        return exits.OK
    text = topic(args.topic)
    if text is None:
        hint = did_you_mean(args.topic, TOPICS)
        print(f"error: no help topic `{args.topic}`" + (f"; {hint}" if hint else "")
              + "\ntopics: " + ", ".join(TOPICS), file=io.err)
        return exits.USAGE
    print(text, file=io.out)
    return exits.OK
