"""The diagnostic-code catalogue (`slpc.diagnostics.codes`) is complete and true: every code
slpc raises is in it, every entry is raised somewhere, docs/language.md shows exactly it,
and every code is produced by some bad input in the tests (here, for the codes no other
test file produces)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from conftest import EXAMPLE, ROOT
from slpc.app.cli import main
from slpc.diagnostics import ERROR, WARNING
from slpc.diagnostics.codes import CODES, STAGES

EX = EXAMPLE.read_text()
PACKAGES = ("app", "compiler", "diagnostics", "dsl", "policy", "report", "targets", "verify")
CODE = re.compile(r'"([EW]\d{3})"')
# Raised only when slpc itself is wrong (its own validator flags a policy it built):
# no spec can produce it while slpc is correct.
INTERNAL = {"E520": "slpc's validator flagging an emitted policy is a bug in slpc",
            "W520": "likewise, for a validator WARNING on an emitted policy"}


def raised_codes() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "codes.py":
                found |= set(CODE.findall(path.read_text()))
    return found


def test_every_raised_code_is_catalogued_and_every_entry_raised():
    assert raised_codes() == set(CODES)


def test_the_docs_table_is_the_catalogue():
    rows = re.findall(r"^\| ([EW]\d{3}) \| (\w+) \| (.*) \|$", (ROOT / "docs" / "language.md").read_text(), re.M)
    assert rows == [(c.code, c.stage, c.title) for c in CODES.values()]


def test_entries_are_well_formed():
    for c in CODES.values():
        assert c.stage in STAGES, c
        assert c.severity == (ERROR if c.code[0] == "E" else WARNING)
        assert c.title.endswith(".") and " " in c.title, c


def _mentioned_by_other_tests() -> set[str]:
    found = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        if path.name != "test_codes.py":
            found |= set(re.findall(r"[EW]\d{3}", path.read_text()))
    return found


def _region_list(regions: str) -> str:
    return EX.replace('regions   ["eu-central-1"]', f"regions   {regions}")


_SECOND_REGION = _region_list('["eu-central-1", "eu-west-1"]')
_NO_KEY_USE = EX.replace("  encrypt     model_key\n", "  encrypt     spare\n").replace(
    "bucket weights {", 'key spare {\n  arn    "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-'
    '444455556667"\n  admins [security_admin]\n}\n\nbucket weights {').replace(
    "  encrypt model_key\n", "  encrypt spare\n").replace("key model_key retain", "key spare retain")

# (code, spec text): bad input for every code that no other test file produces.
CASES = [
    ("E105", 'role a [\n'),
    ("E115", EX.replace("endpoint chat {\n  sagemaker \"llm-chat-prod\"\n}", "endpoint chat")),
    ("E211", EX + '\ndeployment "again" {\n  account "111122223333"\n  regions ["eu-central-1"]\n}\n'),
    ("E302", _region_list("[]")),
    ("E303", EX.replace("endpoint kms               ", "endpoint kmss              ")),
    ("E305", EX.replace('network corp_office {\n  cidr "198.51.100.0/24"\n}', "network corp_office {\n}")),
    ("E310", EX.replace("kms:eu-central-1:111122223333:key", "kms:eu-central-1:999999999999:key")),
    ("E312", _SECOND_REGION),
    ("E313", EX.replace("  encrypt     model_key\n", "")),
    ("E314", EX.replace("object_lock governance 365 days", "object_lock governanse 365 days")),
    ("E315", EX.replace("object_lock governance 365 days", "object_lock governance 40000 days")),
    ("E317", EX.replace("  audit       data_events\n", "  audit       data_event\n")),
    ("E322", EX.replace('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  guardrails [scp, rcpp]\n')),
    ("E323", EX.replace("  audit   data_events\n", "  audit   data_events\n  signature_age 1 days\n")),
    ("E324", EX.replace("  audit   data_events\n", "  audit   data_events\n  signature_age 200 hours\n")),
    ("E407", EX.replace("allow chat_frontend invoke chat                   from prod_vpc",
                        "allow evaluator     invoke chat                   from prod_vpc")),
    ("W303", _region_list('["eu-central-1", "eu-central-1"]')),
    ("W311", EX.replace("key/1b2c3d4e-1111-2222-3333-444455556666", "key/mrk-1b2c3d4e11112222333344445555666f")),
    ("W316", EX.replace("object_lock governance 365 days", "object_lock compliance 365 days")),
    ("W319", EX.replace('"checkpoints/"', '"checkpoints"')),
    ("W320", EX.replace("from prod_vpc, corp_office", "from prod_vpc, corp_office, prod_vpc")),
    ("W322", EX + "allow trainer       read   finetune_data          from prod_vpc\n"),
    ("W323", _NO_KEY_USE),
    ("W324", EX.replace('endpoint s3  "vpce-0f9e8d7c6b5a43211"', 'endpoint s3  "vpce-01a2b3c4d5e6f7a80"')),
    ("W331", EX.replace("allow trainer       read   finetune_data          from prod_vpc\n", "")),
    ("W333", EX.replace('  name   "llm-serving"\n  admins [security_admin]\n', '  name   "llm-serving"\n')),
    ("W350", EX.replace("  endpoint sagemaker.runtime", "  endpoint sts               \"vpce-01a2b3c4d5e6f7a89\"\n"
                        "  endpoint execute-api       \"vpce-01a2b3c4d5e6f7a8a\"\n  endpoint sagemaker.runtime")),
    ("W409", EX.replace("  breakglass  [breakglass]", "  breakglass  [security_admin]")),
    ("W531", 'deployment "d" {\n  account "111122223333"\n  regions ["eu-central-1"]\n}\n'
             'network vpc {\n  endpoint ecr.api "vpce-01a2b3c4d5e6f7a81"\n  endpoint ecr.dkr "vpce-01a2b3c4d5e6f7a82"\n}\n'
             'role puller "arn:aws:iam::111122223333:role/puller"\n'
             'role admin "arn:aws:iam::111122223333:role/admin"\n'
             'repository images {\n  name "images"\n  admins [admin]\n}\n'
             'allow puller pull images from vpc\n'),
    ("E408", EX + 'allow trainer       write  weights "checkpoints/x/" from corp_office\n'),
]


@pytest.mark.parametrize("code, text", CASES, ids=[c for c, _ in CASES])
def test_bad_input_produces_its_code(tmp_path, capsys, code, text):
    path = tmp_path / "spec.slp"
    path.write_text(text)
    rc = main(["check", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{CODES[code].severity}[{code}]" in err, err
    assert rc == (2 if code[0] == "E" else 0), err  # a warning alone never stops the build


def test_output_directory_codes(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "file")]) == 2
    assert "error[E601]" in capsys.readouterr().err
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "foreign")]) == 2
    assert "error[E602]" in capsys.readouterr().err
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_a_non_nfc_prefix_cannot_become_terraform(tmp_path, capsys):
    decomposed = unicodedata.normalize("NFD", "modèles/")
    path = tmp_path / "spec.slp"
    path.write_text(EX.replace('"checkpoints/"', f'"{decomposed}"'))
    assert main(["compile", str(path), "-o", str(tmp_path / "out"), "--target", "terraform"]) == 2
    assert "error[E610]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_code_is_produced_by_some_test():
    here = {c for c, _ in CASES} | {"E601", "E602", "E610"}
    missing = set(CODES) - here - _mentioned_by_other_tests() - set(INTERNAL)
    assert not missing, f"no test produces {sorted(missing)}"
