"""Checkov, the IaC scanner people run, finds no failed check in the examples' IaC
(the bundled example, and the bucket three teams share through access points).

Checkov pins many packages of its own, so .ci/run installs it in a separate
virtual environment and points SLPC_CHECKOV at it. The few checks that do not
apply carry a reviewed skip with its reason in the template (docs/cloudformation.md).
"""

import json
import os
import shutil
import subprocess

import pytest

from slpc.app.cli import main
from conftest import EXAMPLE, ROOT

CHECKOV = os.environ.get("SLPC_CHECKOV") or shutil.which("checkov")
pytestmark = pytest.mark.skipif(not CHECKOV, reason="checkov is installed by .ci/run (SLPC_CHECKOV)")


@pytest.fixture(scope="module", params=[EXAMPLE, ROOT / "examples" / "shared_bucket.slp"], ids=lambda p: p.stem)
def build(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("iac") / "build"
    assert main(["compile", str(request.param), "-o", str(out), "--target", "all"]) == 0
    return out


@pytest.mark.parametrize("framework,folder", [("terraform", "terraform"), ("cloudformation", "cloudformation")])
def test_checkov_reports_no_failed_check(build, framework, folder):
    proc = subprocess.run([CHECKOV, "-d", str(build / folder), "--framework", framework, "--quiet", "--compact",
                           "--skip-download", "-o", "json"], capture_output=True, text=True, timeout=600)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    assert sum(r["summary"]["passed"] for r in reports) > 0
    assert sum(r["summary"]["parsing_errors"] for r in reports) == 0
