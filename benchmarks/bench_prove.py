"""`slpc prove` figures: time per property, solver query times, a large deployment.

    python benchmarks/bench_prove.py                    # the example, then a 10,000-grant deployment
    python benchmarks/bench_prove.py --grants 1000      # a smaller synthetic deployment
    python benchmarks/bench_prove.py --spec big.slp     # any spec instead of the synthetic one
    python benchmarks/bench_prove.py --no-large         # the example only

Goals (issue 9): every property on the example proved in under 1 s; 99% of solver
queries under 160 ms (the figure reported for Zelkova). A property's time is wall
time for building its terms and solving them; a query's time is the solver's
check alone. The large deployment comes from `benchmarks/synthetic.py` when it is
there (the scale issue's generator), else from --spec.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.verify.prove.properties import PROPERTIES, prove  # noqa: E402
from slpc.verify.prove.world import World  # noqa: E402


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _world(name: str, text: str) -> World | None:
    start = time.perf_counter()
    compiled = compile_text(text, name)
    if not compiled.ok:
        print(f"{name}: does not compile: {[d.message for d in compiled.diagnostics if d.is_error][:3]}")
        return None
    world = World.from_artifacts(compiled.model, compiled.artifacts)
    print(f"\n{name}: {len(compiled.model.grants)} grants, {len(compiled.model.principals)} roles, "
          f"{len(world.targets)} asset parts; compiled in {time.perf_counter() - start:.1f} s\n")
    return world


def per_property(name: str, text: str, timeout_ms: int) -> list[float]:
    """One run per property (its own time, as the goal counts it); every query's solver time."""
    world = _world(name, text)
    if world is None:
        return []
    print("| property | verdict | queries | wall time (s) | CPU time (s) |")
    print("|---|---|---|---|---|")
    times: list[float] = []
    for prop in PROPERTIES:
        wall, cpu = time.perf_counter(), time.process_time()
        (result,) = prove(world, timeout_ms, numbers=[prop.number])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        times += [o.seconds for o in result.outcomes]
        print(f"| {prop.number}. {prop.name} | {result.verdict} | {len(result.outcomes)} | {wall:.2f} | {cpu:.2f} |",
              flush=True)
    return times


def all_at_once(name: str, text: str, timeout_ms: int) -> list[float]:
    """One `slpc prove` run (the properties share terms); solver time per property, total time."""
    world = _world(name, text)
    if world is None:
        return []
    wall, cpu = time.perf_counter(), time.process_time()
    results = prove(world, timeout_ms)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print("| property | verdict | queries | solver time (s) |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r.prop.number}. {r.prop.name} | {r.verdict} | {len(r.outcomes)} | {r.seconds:.1f} |")
    print(f"\nall six properties: {wall:.0f} s wall, {cpu:.0f} s CPU (encoding and solving)")
    return [o.seconds for r in results for o in r.outcomes]


def distribution(label: str, times: list[float]) -> None:
    if not times:
        return
    ms = [t * 1000 for t in times]
    under = sum(t < 160 for t in ms) / len(ms) * 100
    print(f"\n{label}: {len(ms)} solver queries, p50 {statistics.median(ms):.1f} ms, "
          f"p99 {_percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms; {under:.2f}% under 160 ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", help="a spec file for the large deployment (instead of the synthetic one)")
    p.add_argument("--grants", type=int, default=10_000, help="grants in the synthetic deployment")
    p.add_argument("--no-large", action="store_true", help="the example only")
    p.add_argument("--timeout-ms", type=int, default=10_000)
    args = p.parse_args(argv)

    example = ROOT / "examples" / "sovereign_llm.slp"
    times = per_property("examples/sovereign_llm.slp", example.read_text(), args.timeout_ms)
    distribution("example", times)
    if args.no_large:
        return 0
    if args.spec:
        name, text = args.spec, Path(args.spec).read_text()
    else:
        try:
            from synthetic import deployment
        except ImportError:
            print("\nsynthetic generator not available (benchmarks/synthetic.py); use --spec FILE")
            return 0
        name, text = f"synthetic deployment ({args.grants} grants, seed 0)", deployment(args.grants, seed=0)
    large = all_at_once(name, text, args.timeout_ms)
    distribution(name, large)
    distribution("all queries", times + large)
    return 0


if __name__ == "__main__":
    sys.exit(main())
