"""slpc's benchmarks in one command, printed as a table (figures, not tests).

    python -m benchmarks.run                 # everything (about two minutes on one core)
    python -m benchmarks.run --sizes 10 100  # fewer synthetic sizes

- the central ML platform (benchmarks/platform.py) at 120 and 1,200 teams (~1,100 and
  ~11,000 grants): the headline, whether it compiles within AWS's limits and how fast
  (goal at 1,200 teams: under 10 s of CPU and 500 MB);
- the bundled example, whole `slpc compile` process (goal: under 0.5 s);
- synthetic deployments (benchmarks/synthetic.py) of 10 to 10,000 grants: whole
  process wall and CPU time and peak memory (goals at 10,000: under 10 s and 500 MB;
  at most 12 times the 1,000-grant time);
- Policy Sentry side by side (needs the `bench` extra: pip install -e '.[bench]'):
  its `write-policy` on the CRUD templates of the 120-team platform's grants (one
  process writing every role's identity policy) against one `slpc compile` process
  writing every artifact, as wall time and number of actions granted;
- evaluator decisions per second on the example and on the largest deployment.

Each compile runs in its own process (`python -m slpc.app.cli compile`), so
import time counts, and its peak RSS comes from the kernel (wait4).
"""

from __future__ import annotations

import argparse
import os
import re
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from slpc.app.pipeline import compile_text

from .bench_evaluator import run as decisions_per_second
from .platform import platform as platform_spec
from .synthetic import deployment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sovereign_llm.slp"
SIZES = (10, 100, 1_000, 10_000)
PLATFORM_TEAMS = (120, 1_200)
REPEAT = 3  # small runs: best of three


def run_compile(spec: Path, out: Path) -> tuple[tuple[float, float, float, int], int, str]:
    """((wall seconds, CPU seconds, of which system seconds, peak RSS in MB), exit code,
    stderr) of one `slpc compile` process. The system share is mostly creating the
    output files, which on a shared disk varies several-fold from run to run."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "slpc.app.cli", "compile", str(spec), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode()  # read before waiting: a long error list would fill the pipe
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stderr.close()
    figures = wall, usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss // 1024
    return figures, os.waitstatus_to_exitcode(status), err


def compile_process(spec: Path, out: Path) -> tuple[float, float, float, int]:
    figures, code, err = run_compile(spec, out)
    if code != 0:
        raise SystemExit(f"slpc compile {spec} failed:\n{err}")
    return figures


def best(spec: Path, out: Path, repeat: int) -> tuple[float, float, float, int]:
    runs = [compile_process(spec, out) for _ in range(repeat)]
    return min(runs)


def outcome(code: int, err: str) -> str:
    """"compiles", or what stops it: the error codes and how often each occurs."""
    if code == 0:
        return "compiles"
    counts = Counter(re.findall(r"error\[(E\d+)\]", err))
    return "fails: " + ", ".join(f"{n} x {c}" for c, n in sorted(counts.items())) if counts else f"exit {code}"


# --------------------------------------------------------------------------- #
# Policy Sentry: the same grants as CRUD templates

# slpc verb on an asset -> (Policy Sentry access level, which ARN it names)
CRUD = {
    ("bucket", "read"): ("read", "objects"), ("bucket", "write"): ("write", "objects"),
    ("bucket", "delete"): ("write", "objects"), ("bucket", "list"): ("list", "bucket"),
    ("repository", "pull"): ("read", "asset"), ("repository", "push"): ("write", "asset"),
}


def crud_templates(model) -> dict[str, dict]:
    """One `write-policy` CRUD template per role, naming the ARNs its grants name."""
    out: dict[str, dict] = {}
    for g in model.grants:
        asset = model.assets[g.asset]
        if (asset.kind, g.verb) not in CRUD:  # SageMaker invocation: no CRUD level names it
            continue
        level, which = CRUD[(asset.kind, g.verb)]
        arn = f"{asset.arn}/{g.prefix}*" if which == "objects" else asset.arn
        cfg = out.setdefault(g.principal, {"mode": "crud", "name": g.principal})
        cfg.setdefault(level, [])
        if arn not in cfg[level]:
            cfg[level].append(arn)
    return out


def allowed_actions(doc: dict) -> int:
    """Distinct actions an identity policy allows (JSON)."""
    acts = set()
    for s in doc.get("Statement", []):
        if s.get("Effect") == "Allow":
            a = s.get("Action", [])
            acts.update([a] if isinstance(a, str) else a)
    return len(acts)


SENTRY_PROCESS = """
import json, sys
from policy_sentry.command.write_policy import write_policy_with_template
templates = json.load(open(sys.argv[1]))
json.dump({role: write_policy_with_template(cfg) for role, cfg in templates.items()}, open(sys.argv[2], "w"))
"""


def policy_sentry_vs_slpc(spec: Path, tmp: Path) -> dict | None:
    """Policy Sentry's `write-policy` on the CRUD templates of the spec's S3 and ECR grants,
    one process writing every role's identity policy, against one `slpc compile` process
    writing every artifact of the spec. Both whole processes (imports included)."""
    try:
        import policy_sentry  # noqa: F401
    except ImportError:
        return None
    import json

    model = compile_text(spec.read_text(), emit=False).model
    templates = crud_templates(model)
    (tmp / "templates.json").write_text(json.dumps(templates))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SENTRY_PROCESS, str(tmp / "templates.json"), str(tmp / "sentry.json")],
                   check=True, capture_output=True)
    sentry_s = time.perf_counter() - start
    (slpc_s, _, _, _), code, err = run_compile(spec, tmp / "sentry-slpc")
    if code != 0:
        raise SystemExit(f"slpc compile failed on {spec}: {err}")
    sentry = json.loads((tmp / "sentry.json").read_text())
    ours = {}
    for path in (tmp / "sentry-slpc" / "iam").rglob("*.json"):
        role = path.stem if path.parent.name.isdigit() else path.parent.name
        ours.setdefault(role, []).append(json.loads(path.read_text()))
    return {"roles": len(templates), "grants": len(model.grants), "sentry_s": sentry_s, "slpc_s": slpc_s,
            "sentry_actions": sum(allowed_actions(d) for d in sentry.values()),
            "slpc_actions": sum(allowed_actions(d) for ds in ours.values() for d in ds if ds)}


# --------------------------------------------------------------------------- #


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--teams", type=int, nargs="*", default=list(PLATFORM_TEAMS), help="platform sizes, in teams")
    ap.add_argument("--sentry-teams", type=int, default=120, help="platform size for the Policy Sentry comparison")
    args = ap.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({platform.processor() or 'cpu'}), "
          f"Python {platform.python_version()}, {platform.system()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("\n| platform (whole process) | grants | wall s | CPU s | of which system s | peak MB | result |\n"
              "|---|---|---|---|---|---|---|")
        for teams in args.teams:
            spec = tmp / f"platform-{teams}.slp"
            spec.write_text(text := platform_spec(teams))
            (wall, cpu, system, rss), code, err = run_compile(spec, tmp / f"platform-{teams}")
            print(f"| {teams:,} teams | {text.count(chr(10) + 'allow '):,} | {wall:.2f} | {cpu:.2f} | {system:.2f} | "
                  f"{rss} | {outcome(code, err)} |")
        wall, cpu, system, rss = best(EXAMPLE, tmp / "example", REPEAT)
        rows.append(("example (7 grants)", wall, cpu, system, rss, "< 0.5 s"))
        times: dict[int, tuple[float, float]] = {}
        for n in args.sizes:
            spec = tmp / f"synthetic-{n}.slp"
            spec.write_text(deployment(n))
            wall, cpu, system, rss = best(spec, tmp / f"build-{n}", REPEAT if n <= 1_000 else 1)
            times[n] = (wall, cpu)
            rows.append((f"synthetic, {n:,} grants", wall, cpu, system, rss,
                         "< 10 s, < 500 MB" if n == 10_000 else ""))
        print("\n| compile (whole process) | wall s | CPU s | of which system s | peak MB | goal |\n"
              "|---|---|---|---|---|---|")
        for label, wall, cpu, system, rss, goal in rows:
            print(f"| {label} | {wall:.2f} | {cpu:.2f} | {system:.2f} | {rss} | {goal} |")
        if 1_000 in times and 10_000 in times:
            (w1, c1), (w10, c10) = times[1_000], times[10_000]
            print(f"\ngrowth 1,000 -> 10,000 grants: {w10 / w1:.1f}x wall, {c10 / c1:.1f}x CPU (goal: at most 12x)")

        spec = tmp / f"platform-{args.sentry_teams}.slp"
        spec.write_text(platform_spec(args.sentry_teams))
        cmp = policy_sentry_vs_slpc(spec, tmp)
        if cmp is None:
            print("\nPolicy Sentry: not installed (pip install -e '.[bench]')")
        else:
            print(f"\n| platform, {args.sentry_teams} teams ({cmp['grants']:,} grants, {cmp['roles']} roles with S3 or "
                  "ECR grants), whole process each | Policy Sentry `write-policy` (identity policies only) | "
                  "`slpc compile` (every artifact) | ratio |\n|---|---|---|---|")
            print(f"| wall time, s | {cmp['sentry_s']:.2f} | {cmp['slpc_s']:.2f} | "
                  f"{cmp['sentry_s'] / cmp['slpc_s']:.1f}x |")
            print(f"| actions granted (distinct per role, summed) | {cmp['sentry_actions']:,} | "
                  f"{cmp['slpc_actions']:,} | {cmp['sentry_actions'] / cmp['slpc_actions']:.1f}x |")

        print("\nevaluator:")
        decisions_per_second(tmp / "example")
        largest = max(args.sizes)
        decisions_per_second(tmp / f"build-{largest}")


if __name__ == "__main__":
    main()
