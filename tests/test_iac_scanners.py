"""Checkov, the IaC scanner people run, finds no failed check in the examples' IaC
(the bundled example, and the bucket three teams share through access points).

Checkov pins many packages of its own, so .ci/run installs it in a separate
virtual environment and points SLPC_CHECKOV at it. The few checks that do not
apply carry a reviewed skip with its reason in the template (docs/cloudformation.md),
and only where they do not apply: a role that trusts an account as a whole keeps
CKV_AWS_61's finding.
"""

import json
import os
import shutil
import subprocess

import pytest

from slpc.app.cli import main
from conftest import BACKEND_SPEC, COGNITO_SPEC, EXAMPLE, ROOT
from test_terraform import TRUST_SPEC

CHECKOV = os.environ.get("SLPC_CHECKOV") or shutil.which("checkov")
pytestmark = pytest.mark.skipif(not CHECKOV, reason="checkov is installed by .ci/run (SLPC_CHECKOV)")


# specs of the tests beside the examples: an API stage calling a SageMaker endpoint as its
# integration role, and one admitting a Cognito pool's users
# (with a trust block for its role: else the Cognito spec's CloudFormation holds no resource checkov scans)
SPECS = {"api-backend": BACKEND_SPEC, "cognito": COGNITO_SPEC.replace(
    'role app "arn:aws:iam::111122223333:role/app"',
    'role app "arn:aws:iam::111122223333:role/app" {\n  assumed_by identity_center "App"\n}')}


@pytest.fixture(scope="module", params=[EXAMPLE, ROOT / "examples" / "shared_bucket.slp", *SPECS],
                ids=lambda p: getattr(p, "stem", p))
def build(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("iac") / "build"
    spec = request.param
    if spec in SPECS:
        spec = out.parent / f"{spec}.slp"
        spec.write_text(SPECS[request.param])
    assert main(["compile", str(spec), "-o", str(out), "--target", "all"]) == 0
    return out


FRAMEWORKS = ("terraform", "cloudformation")  # each written to the folder of its name


def checkov(folder, framework: str) -> list[tuple[str, str]]:
    """(check id, resource) of every failed check; the scan must have parsed everything."""
    proc = subprocess.run([CHECKOV, "-d", str(folder), "--framework", framework, "--quiet", "--compact",
                           "--skip-download", "-o", "json"], capture_output=True, text=True, timeout=600)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 0
    assert sum(r["summary"]["parsing_errors"] for r in reports) == 0
    return [(c["check_id"], c["resource"]) for r in reports for c in r["results"].get("failed_checks", [])]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_checkov_reports_no_failed_check(build, framework):
    assert checkov(build / framework, framework) == []


@pytest.mark.parametrize("framework,role", [("terraform", "aws_iam_role.admin"),
                                            ("cloudformation", "AWS::IAM::Role.AdminRole")])
def test_account_wide_trust_keeps_its_finding(tmp_path, framework, role):
    """The reviewed CKV_AWS_61 skip is for Identity Center's narrowed account roots only."""
    spec = tmp_path / "trust.slp"
    spec.write_text(TRUST_SPEC)
    assert main(["compile", str(spec), "-o", str(tmp_path / "build"), "--target", framework]) == 0
    assert checkov(tmp_path / "build" / framework, framework) == [("CKV_AWS_61", role)]
