"""`slpc compile` end to end: golden output, determinism, atomic writes, manifest."""

import hashlib
import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slpc.app.cli import main
from conftest import EXAMPLE, ROOT

GOLDEN = ROOT / "tests" / "golden" / "sovereign_llm"
SHARED = ROOT / "examples" / "shared_bucket.slp"  # three teams share a bucket through access points


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("example", [EXAMPLE, SHARED], ids=lambda p: p.stem)
def test_example_matches_golden(tmp_path, example):
    golden = ROOT / "tests" / "golden" / example.stem
    out = tmp_path / "build"
    assert main(["compile", str(example), "-o", str(out)]) == 0
    got = _tree(out)
    manifest = json.loads(got["manifest.json"])
    # the manifest names sources as the user gave them; normalise for the golden copy
    manifest["sources"] = [{"path": f"examples/{example.name}", "sha256": s["sha256"]} for s in manifest["sources"]]
    got["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    if os.environ.get("SLPC_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for rel, data in got.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_bytes(data)
    assert got == _tree(golden)


def test_manifest_describes_every_file(tmp_path):
    out = tmp_path / "b"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["manifest_version"] == 1
    assert m["source_sha256"] == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    files = {str(p.relative_to(out)) for p in out.rglob("*.json")} - {"manifest.json"}
    assert {a["path"] for a in m["artifacts"]} == files
    for a in m["artifacts"]:
        assert hashlib.sha256((out / a["path"]).read_bytes()).hexdigest() == a["sha256"]
        assert set(a) == {"kind", "name", "target", "account", "path", "sha256"}
    kinds = {a["kind"] for a in m["artifacts"]}
    assert kinds == {"iam-identity-policy", "s3-bucket-policy", "ecr-repository-policy", "kms-key-policy",
                     "cloudtrail-event-selectors", "eventbridge-rule", "guardduty-feature", "scp", "rcp",
                     "vpc-endpoint-policy", "s3-bucket-encryption", "s3-public-access-block", "s3-versioning",
                     "s3-ownership-controls", "s3-object-lock", "iam-role-trust-policy",
                     "ec2-endpoint-security-group", "ec2-workload-security-group", "ec2-flow-log",
                     "logs-flow-log-destination"}
    evaluator = [a for a in m["artifacts"] if a["name"] == "evaluator"]
    assert evaluator[0]["account"] == "444455556666"


def test_recompiling_is_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["compile", str(EXAMPLE), "-o", str(a)]) == 0
    assert main(["compile", str(EXAMPLE), "-o", str(b)]) == 0
    assert _tree(a) == _tree(b)


def test_failed_compile_leaves_output_untouched(tmp_path, example_text):
    out = tmp_path / "build"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    before = _tree(out)
    bad = tmp_path / "bad.slp"
    bad.write_text(example_text.replace("from prod_vpc\n", "from nowhere\n", 1))
    assert main(["compile", str(bad), "-o", str(out)]) == 2
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.slp", "build"]  # no temp dirs left


def test_recompile_replaces_stale_files(tmp_path, example_text):
    out = tmp_path / "build"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    smaller = tmp_path / "small.slp"
    smaller.write_text(example_text.replace('allow chat_frontend invoke chat                   from prod_vpc\n', ""))
    assert main(["compile", str(smaller), "-o", str(out)]) == 0
    assert not (out / "iam" / "111122223333" / "chat_frontend.json").exists()


def test_refuses_to_replace_a_foreign_directory(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 2
    assert (out / "notes.txt").read_text() == "keep me"


def test_spec_split_over_files_compiles_like_one(tmp_path, example_text):
    head, _, grants = example_text.partition("allow trainer ")
    (tmp_path / "assets.slp").write_text(head)
    (tmp_path / "grants.slp").write_text("allow trainer " + grants)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["compile", str(EXAMPLE), "-o", str(one)]) == 0
    assert main(["compile", str(tmp_path / "assets.slp"), str(tmp_path / "grants.slp"), "-o", str(two)]) == 0
    strip = lambda t: {k: v for k, v in t.items() if k != "manifest.json"}
    assert strip(_tree(one)) == strip(_tree(two))


def test_console_script_runs_and_reads_stdin(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "slpc.app.cli", "check", "-"], input=EXAMPLE.read_bytes(),
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr
    written = len(json.loads((GOLDEN / "manifest.json").read_text())["artifacts"])
    assert f"{written} artifacts".encode() in proc.stdout


def test_oversized_policy_is_an_error_naming_the_heaviest_grants(tmp_path, capsys, example_text):
    roles = "".join(f'role r{i} "arn:aws:iam::444455556666:role/reader-with-a-long-name-{i}"\n' for i in range(60))
    grants = "".join(f'allow r{i} read weights "team-{i}/models/released/" from eval_vpc\n' for i in range(60))
    spec = tmp_path / "big.slp"
    direct = example_text.replace('breakglass  [breakglass]', 'breakglass  [breakglass]\n  access_points never')
    spec.write_text(direct + "\n" + roles + "\n" + grants)
    out = tmp_path / "build"
    assert main(["compile", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error[E501]: the S3 bucket policy for `weights` is" in err
    assert "over AWS's limit of 20,480" in err
    bucket_error = err.split("error[E501]: the S3 bucket policy")[1].split("\n\n")[0]
    notes = [line for line in bucket_error.splitlines() if "= note: " in line]
    assert len(notes) == 3 and all(f"{spec}:" in n and "` takes " in n for n in notes)  # file:line:col of grants
    assert re.search(r"= help: its \d+ grants, in source order, fit \d+ bucket policies \(\d+ from ", bucket_error)
    assert "put each run's data in a bucket of its own" in bucket_error
    assert not out.exists()


def test_size_counting_follows_each_policy_type():
    from slpc.policy.document import PolicyDocument, Statement
    from slpc.policy.limits import measure
    doc = PolicyDocument((Statement("Allow", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/é *",)),))
    from slpc.policy.document import dumps, minify
    pretty = dumps(doc)
    assert measure("iam-identity-policy", doc) == len("".join(pretty.split()))
    assert measure("s3-bucket-policy", doc) == len(pretty.encode())  # bytes: é counts twice
    assert measure("ecr-repository-policy", doc) == len(pretty)
    assert measure("scp", doc) == len(minify(doc))


def test_a_stray_manifest_does_not_make_a_directory_replaceable(tmp_path):
    out = tmp_path / "other"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "some other tool"}')
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 2
    assert (out / "manifest.json").read_text() == '{"name": "some other tool"}'


def test_source_hash_is_of_the_file_as_stored(tmp_path, example_text):
    spec = tmp_path / "bom.slp"
    spec.write_bytes(b"\xef\xbb\xbf" + example_text.encode())
    out = tmp_path / "b"
    assert main(["compile", str(spec), "-o", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["source_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()


@pytest.mark.parametrize("target,present,absent", [
    ("terraform", ["terraform/iam.tf", "manifest.json"], ["s3/weights.json", "cloudformation/111122223333.yaml"]),
    ("cloudformation", ["cloudformation/111122223333.yaml"], ["s3/weights.json", "terraform/iam.tf"]),
    ("all", ["s3/weights.json", "terraform/iam.tf", "cloudformation/444455556666.yaml"], []),
])
def test_targets_choose_what_is_written(tmp_path, target, present, absent):
    out = tmp_path / "build"
    assert main(["compile", str(EXAMPLE), "-o", str(out), "--target", target]) == 0
    for rel in present:
        assert (out / rel).is_file(), rel
    for rel in absent:
        assert not (out / rel).exists(), rel
    listed = {a["path"] for a in json.loads((out / "manifest.json").read_text())["artifacts"]}
    assert bool(listed) == (target == "all")
    assert all((out / p).is_file() for p in listed)
