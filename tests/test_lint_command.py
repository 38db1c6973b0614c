"""lint-policy command: output formats, SARIF structure, exit codes via run()."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from slpc.app.io import IO  # noqa: E402
from slpc.app.commands import lint_policy as lint_command
from slpc.verify.lint import REGISTRY

CLEAN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::m/*"}]}
DIRTY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Net",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::m/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-*"}},
        }
    ],
}


def call(tmp_path, *argv, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    lint_command.add_arguments(parser)
    args = parser.parse_args([str(a) for a in argv])
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    code = lint_command.run(args, IO(out, err))
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, name: str, policy) -> str:
    path = tmp_path / name
    path.write_text(policy if isinstance(policy, str) else json.dumps(policy))
    return str(path)


def test_clean_file_exits_0(tmp_path):
    code, out, _ = call(tmp_path, write(tmp_path, "p.json", CLEAN), "--type", "identity")
    assert (code, out) == (0, "")


def test_text_output_names_file_type_code_path_and_sid(tmp_path):
    f = write(tmp_path, "p.json", DIRTY)
    code, out, _ = call(tmp_path, f, "--type", "identity")
    assert code == 1
    assert f"{f}: WARNING WILDCARD_WITHOUT_LIKE_OPERATOR $.Statement[0].Condition.StringEquals.aws:SourceVpce (Net): " in out


def test_json_output(tmp_path):
    code, out, _ = call(tmp_path, write(tmp_path, "p.json", DIRTY), "--type", "identity", "--format", "json")
    doc = json.loads(out)
    finding = doc["files"][0]["findings"][0]
    assert code == 1 and finding["issueCode"] == "WILDCARD_WITHOUT_LIKE_OPERATOR"
    assert finding["statementIndex"] == 0 and finding["sid"] == "Net"
    assert doc["catalogue"]


def test_sarif_structure(tmp_path):
    f = write(tmp_path, "p.json", DIRTY)
    code, out, _ = call(tmp_path, f, "--type", "identity", "--format", "sarif")
    log = json.loads(out)
    assert code == 1 and log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(REGISTRY)
    assert all(r["shortDescription"]["text"] for r in rules)
    (result,) = run["results"]
    assert result["ruleId"] == "WILDCARD_WITHOUT_LIKE_OPERATOR"
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["level"] == "warning" and result["message"]["text"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("$.Statement[0]")


def test_sarif_levels_cover_every_finding_type():
    assert {c.finding_type for c in REGISTRY.values()} <= set(lint_command.SARIF_LEVELS)
    assert set(lint_command.SARIF_LEVELS.values()) <= {"error", "warning", "note", "none"}


def test_stdin(tmp_path, monkeypatch):
    code, out, _ = call(tmp_path, "-", "--type", "identity", stdin=json.dumps(DIRTY), monkeypatch=monkeypatch)
    assert code == 1 and out.startswith("<stdin>: WARNING")


def test_json_syntax_error_is_a_finding_not_a_crash(tmp_path):
    code, out, _ = call(tmp_path, write(tmp_path, "p.json", '{"Version": '), "--type", "identity")
    assert code == 1 and "JSON_SYNTAX_ERROR" in out


@pytest.mark.parametrize("bad", ["[1, 2]", '{"Statement": 7}', '{"Statement": [{"Sid": [1]}, {"Sid": [1]}]}', '{"Statement": [1, {"Effect": 3, "Condition": []}]}'])
def test_malformed_shapes_give_findings(tmp_path, bad):
    code, out, _ = call(tmp_path, write(tmp_path, "p.json", bad), "--type", "resource", "--resource-type", "AWS::S3::Bucket")
    assert code == 1 and out


def test_unreadable_file_exits_2(tmp_path):
    code, out, err = call(tmp_path, tmp_path / "missing.json", "--type", "identity")
    assert code == 2 and out == "" and "cannot read" in err


def test_unknown_type_exits_2(tmp_path):
    code, _, err = call(tmp_path, write(tmp_path, "p.json", CLEAN), "--type", "bucket")
    assert code == 2 and "unknown --type" in err


def test_resource_type_needs_resource_policy_type(tmp_path):
    code, _, err = call(tmp_path, write(tmp_path, "p.json", CLEAN), "--type", "identity", "--resource-type", "AWS::S3::Bucket")
    assert code == 2 and "resource type" in err


def test_several_files_any_dirty_exits_1(tmp_path):
    code, out, _ = call(tmp_path, write(tmp_path, "a.json", CLEAN), write(tmp_path, "b.json", DIRTY), "--type", "identity")
    assert code == 1 and "b.json" in out and "a.json" not in out


def test_docs_table_lists_every_check():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "lint-checks.md").read_text()
    for c in REGISTRY.values():
        assert f"| `{c.id}` | {c.finding_type.value} |" in text
