"""`slpc prove` on the command line, and the driver's rules for unknown answers."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pytest
import z3

from slpc.app.cli import main
from slpc.app.pipeline import compile_text
from slpc.policy.document import dumps, minify
from slpc.verify.prove import solver as prove_solver
from slpc.verify.prove.properties import PROVED, REFUTED, UNKNOWN, network_perimeter, prove
from slpc.verify.prove.world import STAR, World

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("prove") / "build"
    assert main(["compile", EXAMPLE, "-o", str(out)]) == 0
    return out


def test_the_example_proves_all_eight_properties(capsys):
    assert main(["prove", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert out.count("[proved]") == 8 and "[refuted]" not in out and "[unknown]" not in out
    assert "holding *:*" in out  # the request universe is stated


def test_json_output_and_a_compiled_directory(build, capsys):
    assert main(["prove", EXAMPLE, "--policies", str(build), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and [p["verdict"] for p in report["properties"]] == [PROVED] * 8
    assert [p["number"] for p in report["properties"]] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_hand_edited_directory_is_refuted_with_a_replayable_request(build, tmp_path, capsys):
    edited = tmp_path / "edited"
    edited.mkdir()
    for f in build.rglob("*"):
        if f.is_file():
            (edited / f.relative_to(build)).parent.mkdir(parents=True, exist_ok=True)
            (edited / f.relative_to(build)).write_bytes(f.read_bytes())
    policy = json.loads((edited / "s3/weights.json").read_text())
    for s in policy["Statement"]:  # the optimizer may have merged the bypass deny into another Deny
        if s["Effect"] == "Deny" and "s3:BypassGovernanceRetention" in s.get("Action", []):
            s["Action"] = [a for a in s["Action"] if a != "s3:BypassGovernanceRetention"] or ["s3:ListBucket"]
    (edited / "s3/weights.json").write_text(json.dumps(policy))
    assert main(["prove", EXAMPLE, "--policies", str(edited), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    lock = next(p for p in report["properties"] if p["name"] == "lock")
    assert lock["verdict"] == REFUTED
    cex = lock["counterexample"]
    assert cex["action"] == "s3:BypassGovernanceRetention" and cex["allowed"] is True
    assert "breakglass" not in cex["principal"]
    # The explain line replays the request (against the spec's own, compiled policies: denied there).
    star = tmp_path / "star.json"
    star.write_text(dumps(STAR))
    line = cex["explain"].replace("<(echo " + shlex.quote(minify(STAR)) + ")", str(star))
    words = shlex.split(line)
    assert words[:2] == ["slpc", "explain"]
    assert main(words[1:] + ["--format", "json"]) == 0
    replay = json.loads(capsys.readouterr().out)
    assert replay["allowed"] is False and replay["spec_permits"] is False


@pytest.mark.parametrize("argv", [
    ["prove", EXAMPLE, "--policies", "/nonexistent/dir"],
    ["prove", EXAMPLE, "--timeout-ms", "0"],
    ["prove", "/nonexistent/spec.slp"],
])
def test_bad_usage_exits_2_without_a_traceback(argv, capsys):
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["not json", '{"Statement": "nonsense"}', None])
def test_a_damaged_policy_directory_exits_2(build, tmp_path, capsys, damage):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_bytes((build / "manifest.json").read_bytes())
    for f in build.rglob("*.json"):
        (broken / f.relative_to(build)).parent.mkdir(parents=True, exist_ok=True)
        (broken / f.relative_to(build)).write_bytes(f.read_bytes())
    if damage is None:
        (broken / "s3/weights.json").unlink()
    else:
        (broken / "s3/weights.json").write_text(damage)
    assert main(["prove", EXAMPLE, "--policies", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "cannot read policies" in err and "Traceback" not in err


def test_a_spec_with_errors_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.slp"
    bad.write_text('deployment "d" {\n  account "1"\n}\nallow nobody read nothing from nowhere\n')
    assert main(["prove", str(bad)]) == 2
    assert "error" in capsys.readouterr().err


@pytest.fixture(scope="module")
def world():
    compiled = compile_text(Path(EXAMPLE).read_text(), EXAMPLE)
    return World.from_artifacts(compiled.model, compiled.artifacts)


def test_a_solver_timeout_answers_unknown_never_proved(world, monkeypatch):
    monkeypatch.setattr(prove_solver.z3.Solver, "check", lambda self, *a: z3.unknown)
    (result,) = prove(world, numbers=[1])
    assert result.verdict == UNKNOWN and all(o.verdict == UNKNOWN for o in result.outcomes)


def test_a_counterexample_the_evaluator_does_not_confirm_is_unknown(world):
    target = next(t for t in world.targets if t.label == "weights objects")
    q = next(q for q in network_perimeter(world, target) if q.who == "trainer")
    q.allowed = z3.Not(q.allowed)  # a deliberately wrong encoding of the decision
    q.goal = q.allowed
    outcome = prove_solver.run(q, 10_000)
    assert outcome.verdict == UNKNOWN and "evaluator" in outcome.note


def test_compile_with_prove_writes_once_every_property_holds(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["compile", EXAMPLE, "-o", str(out), "--prove"]) == 0
    err = capsys.readouterr().err
    assert err.count("[proved]") == 8
    assert (out / "manifest.json").is_file()


def test_compile_with_prove_writes_nothing_when_a_property_is_not_proved(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(prove_solver.z3.Solver, "check", lambda self, *a: z3.unknown)
    out = tmp_path / "build"
    assert main(["compile", EXAMPLE, "-o", str(out), "--prove"]) == 1
    err = capsys.readouterr().err
    assert "[unknown]" in err and "nothing written" in err
    assert not out.exists()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_only_when_stderr_is_a_terminal(world, monkeypatch, capsys):
    parts = len(world.parts)  # the assets' and the roles'
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["prove", EXAMPLE]) == 0
    assert terminal.getvalue().endswith(f"\rslpc prove: {parts}/{parts} parts\n")
    assert terminal.getvalue().count("\r") == parts
    monkeypatch.undo()
    assert main(["prove", EXAMPLE]) == 0
    assert "\r" not in capsys.readouterr().err


def test_jobs_prove_the_same_as_one_process(tmp_path, capsys, monkeypatch):
    """`--jobs 2` splits the asset parts over two processes: the same claims, queries,
    verdicts and counterexamples as one process, in the same order (timings aside)."""
    from slpc.verify.prove.properties import prove
    from slpc.verify.prove.world import World
    shared = Path(EXAMPLE).with_name("shared_bucket.slp")
    c = compile_text(shared.read_text(), "shared_bucket.slp")
    from slpc.verify.prove import properties
    forked, real = [], properties._outcomes_in_workers
    monkeypatch.setattr(properties, "_outcomes_in_workers", lambda *a: forked.append(a[3]) or real(*a))
    one, two = (prove(World.from_artifacts(c.model, c.artifacts), jobs=n) for n in (1, 2))
    assert forked == [2]  # the second run did fork
    strip = lambda rs: [(r.prop.number, r.verdict, [(o.query, o.verdict, o.counterexample) for o in r.outcomes])  # noqa: E731
                        for r in rs]
    assert strip(one) == strip(two) and sum(len(r.outcomes) for r in one) > 100
    assert main(["prove", EXAMPLE, "--jobs", "0"]) == 2
    assert "--jobs must be positive" in capsys.readouterr().err
