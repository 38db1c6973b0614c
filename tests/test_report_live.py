"""`slpc report --validation` with real `slpc validate --format json` output, from
the local moto deployment of tests/test_validate_live.py: in sync, then drifted."""

import io
import json

import pytest

pytest.importorskip("moto.server")

import live_fixtures as L  # noqa: E402
from test_validate_live import args, live, policy, put_bucket_policy, server, spec_file  # noqa: E402,F401

from slpc.app.cli import main  # noqa: E402
from slpc.app.io import IO  # noqa: E402
from slpc.app.commands import validate as command  # noqa: E402


def _validate_json(lv, spec, tmp_path) -> str:
    out = io.StringIO()
    command.run(args(lv, fmt="json", spec=spec), IO(out, io.StringIO()), session=L.session())
    path = tmp_path / "results.json"
    path.write_text(out.getvalue())
    return str(path)


def _report(spec, results, tmp_path) -> dict:
    out = tmp_path / "evidence"
    assert main(["report", spec, "-o", str(out), "--validation", results]) == 0
    ev = json.loads((out / "evidence.json").read_text())
    return {c["id"]: c["verification"]["live"] for c in ev["controls"]} | {"_validation": ev["validation"]}


def test_report_reads_real_validate_output_in_sync_then_drifted(live, spec_file, tmp_path):
    live_status = _report(spec_file, _validate_json(live, spec_file, tmp_path), tmp_path)
    assert live_status["_validation"]["in_sync"] is True
    assert live_status["_validation"]["foreign_artifacts"] == []
    statuses = {k: v["status"] for k, v in live_status.items() if k != "_validation"}
    for control in ("SLPC-ENC", "SLPC-IAM", "SLPC-VPCE", "SLPC-LOCK"):  # kinds slpc validate reads
        assert statuses[control] == "in-sync", (control, live_status[control])
    assert statuses["SLPC-INFER"] == "in-sync"  # the live spec's private API (its resource policy is read)
    for control, status in statuses.items():  # kinds validate skips (audit, SCP, RCP today) are said, not hidden
        assert status in ("in-sync", "partial", "not-checked", "not-applicable"), (control, status)
        if status in ("partial", "not-checked"):
            assert "skipped by slpc validate" in live_status[control]["detail"], live_status[control]

    doc = policy(live, "s3/weights.json")
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideNetworks"]
    put_bucket_policy(live, "live-llm-weights", doc)
    drifted = _report(spec_file, _validate_json(live, spec_file, tmp_path), tmp_path)
    assert drifted["_validation"]["in_sync"] is False
    assert drifted["SLPC-ENC"]["status"] == "findings"
    assert any("DenyOutsideNetworks" in f["sids"] and f["artifact"] == "s3/weights.json"
               for f in drifted["SLPC-ENC"]["findings"])
    assert drifted["SLPC-KMS"]["status"] == live_status["SLPC-KMS"]["status"]  # the key was not touched
