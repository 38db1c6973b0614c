"""`slpc prove SPEC... [--policies DIR]`: the eight properties, as text or JSON.

Exit codes: 0 every property proved, 1 a property refuted or unknown, 2 usage.
Each counterexample is printed as the `slpc explain` command line that replays it.
The solver is imported when the command runs, so other commands (and `slpc --help`)
never load Z3.
"""

from __future__ import annotations

import argparse
import json

from slpc.policy.document import PolicyFormatError
from slpc.verify.progress import Progress, is_tty

from .. import exits
from ..common import add_files, on_compiled
from ..formats import RESULTS, add_format
from ..io import IO
from ..pipeline import Compiled

NAME = "prove"
HELP = "SMT proofs that the policies implement the spec, for every request"
DEFAULT_TIMEOUT_MS = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_files(p, "SPEC", "the spec files (one deployment)")
    p.add_argument("--policies", metavar="DIR",
                   help="prove these policies (a directory in manifest layout) instead of the compiled ones")
    add_format(p, RESULTS)
    p.add_argument("--timeout-ms", type=int, default=DEFAULT_TIMEOUT_MS, metavar="N",
                   help="per solver query; a query that runs out answers unknown (default 10000)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="prove in N processes, each taking a share of the asset and role parts (default 1; the "
                        "results are the same, only faster on several cores)")


def proof_results(c: Compiled, io: IO, *, policies: str | None = None, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                  progress: bool = True, jobs: int = 1):
    """The properties' results on the compiled (or `policies`) documents, with a progress
    line on a terminal; ValueError (one line) when the policies cannot be read or the
    timeout is not positive."""
    from slpc.verify.prove.properties import prove
    from slpc.verify.prove.world import World

    if timeout_ms <= 0:
        raise ValueError("--timeout-ms must be positive")
    if jobs <= 0:
        raise ValueError("--jobs must be positive")
    try:
        world = World.from_directory(c.model, policies) if policies else World.from_artifacts(c.model, c.artifacts)
    except (OSError, ValueError, KeyError, PolicyFormatError) as exc:
        raise ValueError(f"cannot read policies from {policies}: {exc}") from None
    return prove(world, timeout_ms, jobs=jobs,
                 progress=Progress(io.err, "slpc prove", "parts") if progress and is_tty(io.err) else None)


def prove_compiled(args: argparse.Namespace, io: IO, c: Compiled) -> int:
    """Prove and print (text or JSON on io.out); also `compile --prove`'s gate."""
    from slpc.verify.prove import results as R

    try:
        results = proof_results(c, io, policies=args.policies, timeout_ms=args.timeout_ms,
                                jobs=args.jobs)
    except ValueError as exc:
        print(f"error: {exc}", file=io.err)
        return exits.USAGE
    if args.format == "json":
        data = R.to_json(results, args.files, c.manifest(written=False)["source_sha256"])
        print(json.dumps(data, indent=2, sort_keys=True), file=io.out)
    else:
        io.out.write(R.to_text(results, args.files))
    return exits.OK if R.all_proved(results) else exits.FINDINGS


def run(args: argparse.Namespace, io: IO) -> int:
    return on_compiled(args, io, prove_compiled)
