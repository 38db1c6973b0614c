"""The `slpc` command line: compile, check, fmt (and the verification commands).

Exit codes: 0 success (warnings allowed), 1 findings or files to reformat,
2 user errors (bad spec, bad usage). Users never see a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Sequence

from slpc import __version__
from slpc import dsl
from slpc.dsl import sarif
from slpc.dsl.diagnostics import Diagnostic, DiagnosticsError, did_you_mean, render, to_json
from slpc.targets.manifest import dumps as manifest_dumps

from . import diff, explain, iac
from . import help as help_topics
from .output import write_tree
from .pipeline import Compiled, compile_sources, read_sources

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _report(diags: Sequence[Diagnostic], sources: dict[str, str], fmt: str, extra: dict | None = None) -> None:
    if fmt == "sarif":
        print(json.dumps(sarif.from_diagnostics(diags, "slpc", __version__), indent=2, sort_keys=True))
        return
    if fmt == "json":
        payload = {"ok": not any(d.is_error for d in diags), "diagnostics": [to_json(d) for d in diags]}
        payload.update(extra or {})
        print(json.dumps(payload, indent=2, sort_keys=True))
        return
    for d in diags:
        print(render(d, sources), file=sys.stderr)
        print(file=sys.stderr)
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    if diags:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)


def _load(paths: Sequence[str], *, emit: bool) -> Compiled:
    sources, diags = read_sources(paths)
    if diags:
        c = Compiled(sources=sources, diagnostics=diags)
        return c
    return compile_sources(sources, emit=emit)


def _write(output: str, files, c: Compiled, fmt: str) -> bool:
    """Build the output files (`files()`) and write them to `output` at once: the error
    handling `compile` and `report` share. False after printing the error (a bad input
    file, a refused or unwritable directory: exit 2), True once written."""
    try:
        write_tree(Path(output), files())
    except ValueError as exc:  # a bad --validation / --proof file or SOURCE_DATE_EPOCH (report)
        print(f"error: {exc}", file=sys.stderr)
    except DiagnosticsError as exc:
        _report(list(c.diagnostics) + list(exc.diagnostics), c.texts, fmt)
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror}", file=sys.stderr)
    else:
        return True
    return False


def cmd_compile(args: argparse.Namespace) -> int:
    c = _load(args.files, emit=True)
    if not c.ok:
        _report(c.diagnostics, c.texts, args.format)
        return EXIT_USAGE
    if args.prove and not _proved(args, c):
        return EXIT_FINDINGS

    def files() -> dict[str, str]:
        out = iac.render(args.target, c.model, c.artifacts)
        if args.target in ("json", "all"):
            out.update({a.path: a.text for a in c.artifacts})
        out["manifest.json"] = manifest_dumps(c.manifest(written=args.target in ("json", "all")))
        return out

    if not _write(args.output, files, c, args.format):
        return EXIT_USAGE
    summary = {"output": args.output, "artifacts": len(c.artifacts)}
    _report(c.diagnostics, c.texts, args.format, summary)
    if args.format == "text":
        print(f"wrote {len(c.artifacts)} artifacts and manifest.json to {args.output}")
    return EXIT_OK


def _proved(args: argparse.Namespace, c: Compiled) -> bool:
    """`compile --prove`: the six properties of `slpc prove` on the compiled policies, before
    anything is written (the verdicts on stderr); False leaves the output directory alone."""
    from slpc.verify.prove import command as prove_command

    proof = argparse.Namespace(files=args.files, policies=None, format="text", timeout_ms=10_000)
    if prove_command.run(proof, c, out=sys.stderr) == EXIT_OK:
        return True
    print(f"error: not every property was proved; nothing written to {args.output}", file=sys.stderr)
    return False


def cmd_report(args: argparse.Namespace) -> int:
    from slpc import report

    c = _load(args.files, emit=True)
    if not c.ok:
        _report(c.diagnostics, c.texts, "text")
        return EXIT_USAGE

    def files() -> dict[str, str]:
        return report.pack(c.model, c.artifacts, [(s.name, s.data) for s in c.sources],
                           validation_file=args.validation, proof_file=args.proof, prove=args.prove)

    if not _write(args.output, files, c, "text"):
        return EXIT_USAGE
    _report(c.diagnostics, c.texts, "text")
    print(f"wrote report.html, report.md and evidence.json (with the artifacts they cite) to {args.output}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    c = _load(args.files, emit=True)
    _report(c.diagnostics, c.texts, args.format)
    if args.format == "text" and c.ok:
        print(f"ok: {len(c.artifacts)} artifacts would be written")
    return EXIT_OK if c.ok else EXIT_USAGE


def cmd_fmt(args: argparse.Namespace) -> int:
    sources, diags = read_sources(args.files)
    changed, texts = [], {s.name: s.text for s in sources}
    for s in sources:
        parsed = dsl.parse(s.text, s.name)
        if not parsed.ok:
            diags += parsed.diagnostics
            continue
        new = dsl.format_spec(parsed.spec)
        if s.name == "<stdin>" and not args.check:
            sys.stdout.write(new)
            continue
        if new == s.text:
            continue
        changed.append(s.name)
        if args.check:
            if args.diff:
                sys.stdout.writelines(difflib.unified_diff(s.text.splitlines(True), new.splitlines(True),
                                                           s.name, s.name + " (formatted)"))
        else:
            Path(s.name).write_text(new, encoding="utf-8", newline="\n")
    if diags:
        _report(diags, texts, "text")
        return EXIT_USAGE
    for name in changed:
        print(f"{'would reformat' if args.check else 'reformatted'} {name}", file=sys.stderr)
    return EXIT_FINDINGS if (args.check and changed) else EXIT_OK


def _on_compiled(args: argparse.Namespace, run) -> int:
    """Compile args.files in memory and hand the result to a command (exit 2 on a bad spec)."""
    c = _load(args.files, emit=True)
    if not c.ok:
        _report(c.diagnostics, c.texts, "text")
        return EXIT_USAGE
    return run(args, c)


def cmd_explain(args: argparse.Namespace) -> int:
    return _on_compiled(args, explain.run)


def cmd_prove(args: argparse.Namespace) -> int:
    from slpc.verify.prove import command as prove_command

    return _on_compiled(args, prove_command.run)


def cmd_help(args: argparse.Namespace) -> int:
    if args.topic is None:
        parser().print_help()
        print("\nhelp topics: " + ", ".join(help_topics.TOPICS))
        return EXIT_OK
    text = help_topics.topic(args.topic)
    if text is None:
        hint = did_you_mean(args.topic, help_topics.TOPICS)
        print(f"error: no help topic `{args.topic}`" + (f"; {hint}" if hint else "")
              + "\ntopics: " + ", ".join(help_topics.TOPICS), file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slpc", description="The sovereign LLM policy compiler.")
    p.add_argument("--version", action="version", version=f"slpc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def files(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("files", nargs="+", metavar="FILE", help="spec files (one deployment); - reads stdin")

    def fmt_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                        help="diagnostics as text (stderr), or JSON or SARIF 2.1.0 (stdout)")

    c = sub.add_parser("compile", help="compile a spec into policy documents and a manifest")
    files(c)
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (replaced atomically)")
    c.add_argument("--target", choices=iac.TARGETS, default="json",
                   help="json: the policy documents; terraform / cloudformation: IaC only; all: everything")
    c.add_argument("--prove", action="store_true",
                   help="first prove the six properties of `slpc prove`; write nothing (exit 1) unless all hold")
    fmt_opt(c)
    c.set_defaults(run=cmd_compile)

    k = sub.add_parser("check", help="parse and check a spec without writing anything")
    files(k)
    fmt_opt(k)
    k.set_defaults(run=cmd_check)

    f = sub.add_parser("fmt", help="rewrite spec files in canonical form")
    files(f)
    f.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    f.add_argument("--diff", action="store_true", help="with --check, print the changes as a unified diff")
    f.set_defaults(run=cmd_fmt)

    e = sub.add_parser("explain", help="would AWS allow a request under the compiled spec, and why")
    explain.add_arguments(e)
    e.set_defaults(run=cmd_explain)

    pv = sub.add_parser("prove", help="SMT proofs that the policies implement the spec, for every request")
    from slpc.verify.prove.command import add_arguments as prove_arguments

    prove_arguments(pv)
    pv.set_defaults(run=cmd_prove)

    d = sub.add_parser("diff", help="what access a change adds and removes, in the spec's terms")
    diff.add_arguments(d)
    d.set_defaults(run=diff.run)

    h = sub.add_parser("help", help="short references: " + ", ".join(help_topics.TOPICS))
    h.add_argument("topic", nargs="?", help="one of: " + ", ".join(help_topics.TOPICS))
    h.set_defaults(run=cmd_help)

    from slpc.verify import lint_command

    from slpc.verify.live import command as validate_command

    v = sub.add_parser("validate", help="check a live AWS account against the spec (read-only)")
    validate_command.add_arguments(v)
    v.set_defaults(run=validate_command.run)

    r = sub.add_parser("report", help="write the audit evidence pack: report.html, report.md, evidence.json")
    files(r)
    r.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (replaced atomically)")
    r.add_argument("--validation", metavar="FILE", help="results of `slpc validate --format json` to include")
    proof = r.add_mutually_exclusive_group()
    proof.add_argument("--proof", metavar="FILE", help="results of `slpc prove --format json` on this spec to include")
    proof.add_argument("--prove", action="store_true", help="run `slpc prove` on the compiled policies and include it")
    r.set_defaults(run=cmd_report)

    lp = sub.add_parser("lint-policy", help="validate any policy JSON offline (Access Analyzer issue codes)")
    lint_command.add_arguments(lp)
    lp.set_defaults(run=lint_command.run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
