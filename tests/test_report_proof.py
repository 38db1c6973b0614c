"""`slpc report --proof FILE / --prove`: proof results per control, from real
`slpc prove` runs on the example (all proved) and on a directory with a perimeter
Deny removed (refuted), and the files the report must refuse."""

import hashlib
import json
import re
import subprocess
import sys

import jsonschema
import pytest
import yaml
from hypothesis import given, strategies as st

from conftest import EXAMPLE, ROOT
from slpc.app.cli import main
from slpc.report import controls as C
from slpc.report import pack, proof
from slpc.verify.prove import results as prove_results
from slpc.verify.prove.properties import PROPERTIES, prove
from slpc.verify.prove.world import World
from test_report import SCHEMA, _parse, compiled_example, evidence_of

NUMBERS = [p.number for p in PROPERTIES]
CATALOGUE = C.load()
MAPPED = {c.id: c.proofs for c in CATALOGUE.controls}
PERIMETER_DENIES = ("DenyOutsideNetworks", "DenyInferenceTrainerOutsideGrant")


def _prove(capsys, tmp_path, spec=EXAMPLE, policies=None, name="proof.json") -> tuple[int, dict, str]:
    argv = ["prove", str(spec), "--format", "json"] + (["--policies", str(policies)] if policies else [])
    code = main(argv)
    out = capsys.readouterr().out
    path = tmp_path / name
    path.write_text(out)
    return code, json.loads(out), str(path)


def _report(tmp_path, *extra, spec=EXAMPLE) -> tuple[int, dict, dict]:
    out = tmp_path / "evidence"
    code = main(["report", str(spec), "-o", str(out), *extra])
    if code:
        return code, {}, {}
    ev = json.loads((out / "evidence.json").read_text())
    jsonschema.validate(ev, SCHEMA)
    return code, ev, {n: (out / n).read_text() for n in ("report.html", "report.md")}


def _verdicts(ev) -> dict[str, str]:
    return {c["id"]: c["verification"]["proof"]["status"] for c in ev["controls"]}


# -- the mapping is data that cannot rot -------------------------------------- #
def test_every_mapped_property_exists_and_every_property_is_mapped():
    used = {n for ns in MAPPED.values() for n in ns}
    assert used <= set(NUMBERS), used - set(NUMBERS)
    assert used == set(NUMBERS)  # no proof result is left out of the controls


@pytest.mark.parametrize("proofs", [["1"], [1, 1], [0], [True], "1, 2"])
def test_catalogue_refuses_bad_property_numbers(tmp_path, proofs):
    raw = yaml.safe_load(C.CATALOGUE_FILE.read_text())
    raw["controls"][0]["proofs"] = proofs
    bad = tmp_path / "controls.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="proofs must list distinct property numbers"):
        C.load(bad)


# -- the verdict rule ------------------------------------------------------------ #
VERDICT = st.sampled_from([proof.PROVED, proof.REFUTED, proof.UNKNOWN, None])  # None: absent from the file


@given(st.fixed_dictionaries({n: VERDICT for n in NUMBERS}),
       st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=6, unique=True))
def test_a_control_is_proved_only_if_every_mapped_property_was(verdicts, numbers):
    results = {"properties": [{"number": n, "name": f"p{n}", "verdict": v, "explain": None, "problems": [],
                               "unknown": []} for n, v in verdicts.items() if v is not None]}
    got = proof.status(results, numbers)
    mine = [verdicts[n] for n in numbers]
    assert (got["status"] == proof.PROVED) == all(v == proof.PROVED for v in mine)
    if proof.REFUTED in mine:
        assert got["status"] == proof.REFUTED
    elif proof.UNKNOWN in mine:
        assert got["status"] == proof.UNKNOWN
    elif None in mine:
        assert got["status"] == proof.NOT_RUN
    assert [p["number"] for p in got["properties"]] == numbers


def test_without_results_nothing_is_claimed():
    assert proof.status(None, [1])["status"] == proof.NOT_RUN
    assert proof.status({"properties": []}, [])["status"] == "not-applicable"


# -- real prover runs ------------------------------------------------------------ #
def test_a_real_proof_of_the_example_proves_every_mapped_control(tmp_path, capsys):
    code, results, path = _prove(capsys, tmp_path)
    assert code == 0 and results["ok"]
    assert results["source_sha256"] == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()  # as manifest.json
    code, ev, pages = _report(tmp_path, "--proof", path)
    assert code == 0
    assert ev["proof"]["file"] == path and re.fullmatch(r"[0-9a-f]{64}", ev["proof"]["sha256"])
    assert [p["verdict"] for p in ev["proof"]["properties"]] == ["proved"] * 8
    for cid, status in _verdicts(ev).items():
        assert status == ("proved" if MAPPED[cid] else "not-applicable"), cid
    assert "proves another spec" not in pages["report.md"] and "## Proofs" in pages["report.md"]
    assert 'class="status s-proved"' in pages["report.html"]


def test_prove_runs_in_process_with_the_same_verdicts(tmp_path, capsys):
    _, _, path = _prove(capsys, tmp_path)
    _, from_file, _ = _report(tmp_path / "a", "--proof", path)
    code, in_process, _ = _report(tmp_path / "b", "--prove")
    assert code == 0 and in_process["proof"]["file"] is None and in_process["proof"]["sha256"] is None
    assert [c["verification"]["proof"] for c in in_process["controls"]] == \
        [c["verification"]["proof"] for c in from_file["controls"]]


@pytest.fixture
def edited(tmp_path, capsys):
    """The compiled example with the weights bucket's network perimeter Denies removed."""
    build = tmp_path / "build"
    assert main(["compile", str(EXAMPLE), "-o", str(build)]) == 0
    policy = build / "s3" / "weights.json"
    doc = json.loads(policy.read_text())
    kept = [s for s in doc["Statement"] if s["Sid"] not in PERIMETER_DENIES]
    assert len(kept) == len(doc["Statement"]) - len(PERIMETER_DENIES)
    policy.write_text(json.dumps({**doc, "Statement": kept}))
    capsys.readouterr()
    return build


def test_a_refuted_property_marks_exactly_its_controls_with_the_counterexample(tmp_path, capsys, edited):
    code, results, path = _prove(capsys, tmp_path, policies=edited)
    assert code == 1
    refuted = {p["number"]: p["counterexample"]["explain"] for p in results["properties"] if p["verdict"] == "refuted"}
    assert 2 in refuted  # the network perimeter
    code, ev, pages = _report(tmp_path, "--proof", path)
    assert code == 0
    for c in ev["controls"]:
        v, mapped = c["verification"]["proof"], MAPPED[c["id"]]
        if set(mapped) & set(refuted):
            assert v["status"] == "refuted", c["id"]
            for p in v["properties"]:
                assert p["explain"] == refuted.get(p["number"])
                assert p["verdict"] == ("refuted" if p["number"] in refuted else "proved")
        else:
            assert v["status"] == ("proved" if mapped else "not-applicable"), c["id"]
    assert _verdicts(ev)["SLPC-LOCK"] == "proved"  # property 4 still holds
    line = refuted[2]
    assert line.startswith("slpc explain ") and "--action s3:" in line
    assert f"`{line}`" in pages["report.md"] or f"``{line}``" in pages["report.md"]
    html_text = "".join(_parse(pages["report.html"]).text)
    assert line in html_text
    assert _parse(pages["report.html"]).tags.isdisjoint({"script", "a", "img"})


# -- files the report refuses ------------------------------------------------------ #
def test_a_proof_of_another_spec_is_refused(tmp_path, capsys):
    _, _, path = _prove(capsys, tmp_path)
    other = tmp_path / "changed.slp"
    other.write_text(EXAMPLE.read_text() + "\n# one more comment\n")
    code, _, _ = _report(tmp_path, "--proof", path, spec=other)
    err = capsys.readouterr().err
    assert code == 2 and "proves another spec" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "evidence").exists()


def _real(capsys, tmp_path) -> dict:
    return _prove(capsys, tmp_path, name="real.json")[1]


@pytest.mark.parametrize("edit, words", [
    (None, "cannot read"),
    (lambda raw: "{", "not JSON"),
    (lambda raw: [], "no `properties` list"),
    (lambda raw: raw.pop("source_sha256") and raw, "no `source_sha256`"),
    (lambda raw: raw.update(source_sha256="0" * 64) or raw, "proves another spec"),
    (lambda raw: raw["properties"][0].update(verdict="maybe") or raw, "`verdict` is not proved, refuted or unknown"),
    (lambda raw: raw["properties"][0].update(number="1") or raw, "no whole `number`"),
    (lambda raw: raw["properties"].append(raw["properties"][0]) or raw, "listed twice"),
    (lambda raw: raw["properties"][1].update(verdict="refuted", counterexample={"action": "x"}) or raw,
     "has no `explain` line"),
    (lambda raw: raw["properties"][2].update(problems="oops") or raw, "`problems` is not a list of strings"),
    (lambda raw: raw["properties"][2].update(problems=["default encryption is AES256"]) or raw,
     "is `proved` but carries"),
    (lambda raw: raw["properties"][2].update(unknown=[{"query": "q"}]) or raw, "not a list of {query, note}"),
])
def test_bad_proof_files_exit_2_with_one_line(tmp_path, capsys, edit, words):
    path = tmp_path / "p.json"
    if edit is not None:
        raw = edit(_real(capsys, tmp_path))
        path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    code, _, _ = _report(tmp_path, "--proof", str(path))
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "evidence").exists()


def test_proof_and_prove_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", str(EXAMPLE), "-o", str(tmp_path / "o"), "--proof", "x.json", "--prove"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_a_report_without_prove_never_loads_z3(tmp_path):
    code = ("import sys; from slpc.app.cli import main; "
            f"assert main(['report', {str(EXAMPLE)!r}, '-o', {str(tmp_path / 'o')!r}]) == 0; "
            "assert 'z3' not in sys.modules, 'z3 loaded'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr


def _prover_json(c) -> dict:
    """The prover's JSON on a compiled spec, as `slpc report --prove` makes it in-process."""
    sha = c.manifest(written=False)["source_sha256"]
    return prove_results.to_json(prove(World.from_artifacts(c.model, c.artifacts)), [s.name for s in c.sources], sha)


def test_in_process_prover_results_match_the_schema_for_another_spec(tmp_path):
    from conftest import API_SPEC
    c = compiled_example("api.slp", API_SPEC)
    results = proof.from_results(_prover_json(c), c.manifest(written=False)["source_sha256"])
    ev = evidence_of(c, proof=results)
    jsonschema.validate(json.loads(json.dumps(ev)), SCHEMA)
    assert {p["number"] for p in results["properties"]} == set(NUMBERS)
    assert results["file"] is None and results["sha256"] is None


def test_reports_with_prove_are_reproducible():
    c = compiled_example()
    sources = [(s.name, s.data) for s in c.sources]
    epoch = {"SOURCE_DATE_EPOCH": "1767225600"}
    first = pack(c.model, c.artifacts, sources, proof_results=_prover_json(c), environ=epoch)
    assert first == pack(c.model, c.artifacts, sources, proof_results=_prover_json(c), environ=epoch)
    assert "From `slpc prove`, run by this report" in first["report.md"]
