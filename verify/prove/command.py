"""`slpc prove SPEC... [--policies DIR]`: the six properties, as text or JSON.

Exit codes: 0 every property proved, 1 a property refuted or unknown, 2 usage.
Each counterexample is printed as the `slpc explain` command line that replays it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from slpc.targets.document import PolicyFormatError, minify
from slpc.verify.progress import Progress, is_tty

# The solver and its encodings are imported when the command runs, so other commands
# (and `slpc --help`) never load Z3.

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

UNIVERSE = ("requests: every data action (read, write, delete, list, decrypt, pull, push, invoke), perimeter, "
            "governance-bypass and key-administration action on the spec's buckets (objects and bucket), keys, "
            "repositories, SageMaker endpoints and API stages; callers: the spec's roles and any other IAM role or "
            "user (any path, any account) holding *:* (the outsider), anonymous callers and AWS service principals; "
            "every value of every condition key, present or absent")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="SPEC", help="the spec files (one deployment)")
    p.add_argument("--policies", metavar="DIR",
                   help="prove these policies (a directory in manifest layout) instead of the compiled ones")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--timeout-ms", type=int, default=10_000, metavar="N",
                   help="per solver query; a query that runs out answers unknown (default 10000)")


def explain_line(files: list[str], cex) -> str:
    """The `slpc explain` command that replays a counterexample (a `solver.Counterexample`)."""
    from .world import STAR

    words = ["slpc", "explain", *files, "--principal", cex.principal, "--action", cex.action,
             "--resource", cex.resource]
    for key, values in sorted(cex.context.items()):
        for v in values:
            words += ["--context", f"{key}={v}"]
    line = " ".join(shlex.quote(w) for w in words)
    if cex.star:
        line += " --identity-policy <(echo " + shlex.quote(minify(STAR)) + ")"
    return line


def _cex_json(files: list[str], result) -> dict | None:
    o = result.counterexample
    if o is None:
        return None
    c = o.counterexample
    return {"query": o.query, "principal": c.principal, "action": c.action, "resource": c.resource,
            "context": c.context, "identity_star": c.star, "allowed": c.allowed, "spec_permits": c.spec_permits,
            "decision": c.decision, "explain": explain_line(files, c)}


def _text(files: list[str], results: list, out) -> None:
    print(f"slpc prove: {UNIVERSE}", file=out)
    for r in results:
        n = len(r.outcomes)
        print(f"[{r.verdict}] {r.prop.number}. {r.prop.name}: {r.prop.claim} "
              f"({n} quer{'y' if n == 1 else 'ies'}, {r.seconds:.2f} s)", file=out)
        for problem in r.problems:
            print(f"    {problem}", file=out)
        o = r.counterexample
        if o is not None:
            c = o.counterexample
            spec = "" if c.spec_permits is None else f", the spec {'permits' if c.spec_permits else 'does not'}"
            print(f"    counterexample ({o.query}): AWS would {'ALLOW' if c.allowed else 'DENY'}{spec}", file=out)
            print(f"      {explain_line(files, c)}", file=out)
            for line in c.decision.splitlines():
                print(f"      {line}", file=out)
        for u in (o for o in r.outcomes if o.verdict == "unknown"):
            print(f"    unknown ({u.query}): {u.note}", file=out)


def run(args: argparse.Namespace, compiled, out=None) -> int:
    """`compiled` is the pipeline's result for args.files (already checked ok)."""
    from .properties import PROVED, prove
    from .world import World

    out = out or sys.stdout
    if args.timeout_ms <= 0:
        print("error: --timeout-ms must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        world = (World.from_directory(compiled.model, args.policies) if args.policies
                 else World.from_artifacts(compiled.model, compiled.artifacts))
    except (OSError, ValueError, KeyError, PolicyFormatError) as exc:
        print(f"error: cannot read policies from {args.policies}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    results = prove(world, args.timeout_ms,
                    progress=Progress(sys.stderr, "slpc prove", "asset parts") if is_tty(sys.stderr) else None)
    ok = all(r.verdict == PROVED for r in results)
    if args.format == "json":
        # source_sha256: as in manifest.json, so `slpc report --proof` can tell which spec was proved
        print(json.dumps({"ok": ok, "universe": UNIVERSE,
                          "source_sha256": compiled.manifest(written=False)["source_sha256"], "properties": [
            {"number": r.prop.number, "name": r.prop.name, "claim": r.prop.claim, "verdict": r.verdict,
             "queries": len(r.outcomes), "seconds": round(r.seconds, 3), "problems": r.problems,
             "counterexample": _cex_json(args.files, r),
             "unknown": [{"query": o.query, "note": o.note} for o in r.outcomes if o.verdict == "unknown"]}
            for r in results]}, indent=2, sort_keys=True), file=out)
    else:
        _text(args.files, results, out)
    return EXIT_OK if ok else EXIT_FINDINGS

