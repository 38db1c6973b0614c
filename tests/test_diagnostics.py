"""One test per class of bad input: location, caret, hint, exit code 2, no traceback."""

import json
import re

import pytest

from slpc.app.cli import main
from conftest import EXAMPLE

EX = EXAMPLE.read_text()


def run(tmp_path, capsys, text, *extra, data: bytes | None = None, name="spec.slp"):
    path = tmp_path / name
    path.write_bytes(data if data is not None else text.encode())
    code = main(["check", str(path), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.err, out.out, str(path)


def located(err: str, path: str, line: int, col: int) -> bool:
    return f"{path}:{line}:{col}:" in err


def caret_under(err: str, text: str) -> bool:
    """The source line is shown, and the carets sit under `text` in it."""
    lines = err.splitlines()
    for i, l in enumerate(lines[:-1]):
        m = re.match(r"^\s*\d+ \| (.*)$", l)
        if m and text in m.group(1):
            src = m.group(1)
            carets = re.match(r"^\s*\| (\s*)(\^+)", lines[i + 1])
            if carets and src[len(carets.group(1)):].startswith(text) and len(carets.group(2)) == len(text):
                return True
    return False


# (code, source, line, text under the caret (its first place on that line), words in message or hint)
CASES = [
    ("E104", 'deployment "x" {\n  account "111122223333"\n', 1, "{", "add `}`"),
    ("E100", 'role a "arn:aws:iam::111122223333:role/a" }\n', 1, "}", "expected"),
    ("E102", 'role a "arn:aws:iam::1\n', 1, '"', "unterminated"),
    ("E103", 'role a "x\\q"\n', 1, "\\q", "escapes are"),
    ("E101", "role a @\n", 1, "@", "unexpected character"),
    ("E110", EX.replace("bucket weights {", "buckt weights {"), 92, "buckt", "did you mean `bucket`"),
    ("E111", EX.replace("  encrypt     model_key", "  encrpyt     model_key", 1), 94, "encrpyt", "did you mean `encrypt`"),
    ("E112", EX.replace("object_lock governance 365 days", "object_lock governance 365 weeks"), 95, "weeks", "`days`"),
    ("E113", EX.replace('  name    "acme-llm-finetune"', '  name    "acme-llm-finetune"\n  name    "x"'), 103, "name", "given twice"),
    ("E114", EX.replace('  name   "llm-serving"\n', ""), 108, "serving", "missing `name`"),
    ("E201", EX.replace("allow trainer       read", "allow trainr        read"), 117, "trainr", "did you mean `trainer`"),
    ("E202", EX.replace("role breakglass ", "role trainer "), 70, "trainer", "declared twice"),
    ("E203", EX.replace("allow trainer       read", "allow weights       read"), 117, "weights", "not a role"),
    ("E204", EX.replace("read   finetune_data", "raed   finetune_data"), 117, "raed", "did you mean `read`"),
    ("E210", 'role a "arn:aws:iam::111122223333:role/a"\n', 1, "r", "no `deployment`"),
    ("E301", EX.replace('"111122223333"\n  org', '"11112222333"\n  org'), 5, '"11112222333"', "12 digits"),
    ("E301", EX.replace('vpc "vpc-0a1b2c3d4e5f67890"', 'vpc "vpc-xyz"'), 12, '"vpc-xyz"', "VPC id"),
    ("E301", EX.replace('"vpce-01a2b3c4d5e6f7a81"', '"vpce-1"'), 15, '"vpce-1"', "endpoint id"),
    ("E301", EX.replace('["eu-central-1"]', '["eu-centrl-1", "cn-north-1"]'), 7, '"cn-north-1"', "partition"),
    ("E301", EX.replace('"o-a1b2c3d4e5"', '"org-1"'), 6, '"org-1"', "organization id"),
    ("E304", EX.replace('"198.51.100.0/24"', '"10.0.0.0/8"'), 33, '"10.0.0.0/8"', "non-public"),
    ("E304", EX.replace('"198.51.100.0/24"', '"0.0.0.0/0"'), 33, '"0.0.0.0/0"', "whole Internet"),
    ("E304", EX.replace('"198.51.100.0/24"', '"198.51.100.7/24"'), 33, '"198.51.100.7/24"', "did you mean \"198.51.100.0/24\""),
    ("E304", EX.replace('"198.51.100.0/24"', '"0.0.0.0/1"'), 33, '"0.0.0.0/1"', "too broad"),
    ("E304", EX.replace('"198.51.100.0/24"', '"100.0.0.0/8"'), 33, '"100.0.0.0/8"', "overlaps the non-public range 100.64.0.0/10"),
    ("E301", EX.replace('"acme-llm-weights"', '"acme-llm-weights--ol-s3"'), 93, '"acme-llm-weights--ol-s3"', "valid S3 bucket name"),
    ("E306", EX.replace('"arn:aws:iam::111122223333:role/llm-trainer"', '"arn:aws:iam::111122223333:user/bob"'), 41, '"arn:aws:iam::111122223333:user/bob"', "user ARN"),
    ("E307", EX.replace('"arn:aws:iam::444455556666:role/model-evaluator"', '"arn:aws-cn:iam::444455556666:role/model-evaluator"'), 81, '"arn:aws-cn:iam::444455556666:role/model-evaluator"', "partition"),
    ("E308", EX.replace("key/1b2c3d4e-1111-2222-3333-444455556666", "key/nope"), 88, '"arn:aws:kms:eu-central-1:111122223333:key/nope"', "key ARN"),
    ("E309", EX.replace("arn:aws:kms:eu-central-1:", "arn:aws:kms:us-east-1:"), 88, '"arn:aws:kms:us-east-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"', "allowed regions"),
    ("E318", EX.replace('"released/"    from prod_vpc', '"released/*"   from prod_vpc'), 119, '"released/*"', "literal"),
    ("E319", EX.replace('"2027-06-30T00:00:00Z"', '"2027-13-30T00:00:00Z"'), 123, '"2027-13-30T00:00:00Z"', "valid date"),
    ("E325", EX.replace('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  managed_policies_per_role 21\n'),
     8, "21", "at most 20"),
    ("E325", EX.replace('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  managed_policies_per_role 0\n'),
     8, "0", "by default"),
    ("E112", EX.replace('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  managed_policies_per_role "9"\n'),
     8, '"9"', "a number"),
    ("E401", EX.replace("inference     pull   serving", "inference     pull   weights"), 120, "pull", "bucket verbs"),
    ("E403", EX.replace("invoke chat                   from prod_vpc", "invoke chat                   from eval_vpc"), 122, "eval_vpc", "no sagemaker.runtime endpoint"),
    ("E404", EX.replace("  admins [security_admin]\n}\n\nbucket weights", "}\n\nbucket weights"), 87, "model_key", "no admins"),
    ("E405", EX.replace("allow trainer       read", "allow security_admin read"), 117, "security_admin", "admin of bucket `finetune_data`"),
    ("E406", EX.replace("  admins [security_admin]\n}\n\nbucket weights", "  admins [evaluator]\n}\n\nbucket weights"), 89, "evaluator", "account"),
    ("E402", EX.replace('pull   serving  ', 'pull   serving "x/"'), 120, '"x/"', "only applies to buckets"),
]


@pytest.mark.parametrize("code,text,line,under,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_diagnosed(tmp_path, capsys, code, text, line, under, words):
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2
    assert f"error[{code}]" in err, err
    if line is not None:
        col = text.splitlines()[line - 1].index(under) + 1
        assert located(err, path, line, col), err
        assert caret_under(err, under), err
        assert words in err, err


def test_network_without_the_service_endpoint(tmp_path, capsys):
    text = EX.replace("read   weights \"released/\"    from eval_vpc", "pull   serving                from eval_vpc")
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E403]" in err
    assert "network `eval_vpc` has no ecr.api or ecr.dkr endpoint" in err
    assert caret_under(err, "eval_vpc")


def test_past_until_is_a_warning_only(tmp_path, capsys):
    rc, err, out, path = run(tmp_path, capsys, EX.replace('"2027-06-30T00:00:00Z"', '"2020-01-01T00:00:00Z"'))
    assert rc == 0
    assert "warning[W321]" in err and located(err, path, 123, 71) and caret_under(err, '"2020-01-01T00:00:00Z"')


def test_several_errors_in_one_run(tmp_path, capsys):
    text = EX.replace("allow trainer       read", "allow trainr        read").replace(
        '"198.51.100.0/24"', '"10.1.0.0/16"').replace("invoke chat", "invoke chta")
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2
    assert {"E201", "E304"} <= set(re.findall(r"error\[(E\d+)\]", err))
    assert "3 error(s)" in err


def test_syntax_errors_in_several_declarations(tmp_path, capsys):
    text = 'deployment "x" {\n  account "1" }\n}\nrole a "b\nbucket w {\n  name @\n}\n'
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2
    assert len(re.findall(r"^\S+:\d+:\d+: error", err, re.M)) == 3


def test_json_diagnostics(tmp_path, capsys):
    rc, _, out, path = run(tmp_path, capsys, EX.replace("allow trainer       read", "allow trainr        read"),
                           "--format", "json")
    assert rc == 2
    data = json.loads(out)
    assert data["ok"] is False
    (d,) = [d for d in data["diagnostics"] if d["code"] != "W458"]  # the example's eval_vpc: no flow log
    assert d == {"severity": "error", "code": "E201", "message": "unknown role `trainr`", "file": path,
                 "range": {"start": {"line": 117, "column": 7}, "end": {"line": 117, "column": 13}},
                 "hint": "did you mean `trainer`?"}


@pytest.mark.parametrize("data,code,words", [
    (b"", "E005", "empty"),
    (b"   \n\n# only a comment? no: whitespace\n"[:5], "E005", "empty"),
    (b'role a "\xff\xfe"\n', "E004", "invalid UTF-8"),
    (b"\x7fELF\x00\x01\x02", "E003", "binary"),
    (b'{"Version": "2012-10-17", "Statement": []}\n', "E006", "does not look like an .slp"),
    (b"---\nkey: value\n", "E006", "does not look like an .slp"),
])
def test_unusable_files(tmp_path, capsys, data, code, words):
    rc, err, _, _ = run(tmp_path, capsys, "", data=data)
    assert rc == 2 and f"error[{code}]" in err and words in err


def test_enormous_file(tmp_path, capsys):
    from slpc.dsl.source import MAX_BYTES
    rc, err, _, _ = run(tmp_path, capsys, "", data=b"# x\n" * (MAX_BYTES // 4 + 1))
    assert rc == 2 and "error[E002]" in err


def test_missing_file_and_directory(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.slp")]) == 2
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "is a directory" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compile", str(EXAMPLE)])  # no -o
    assert exc.value.code == 2


def test_two_names_for_one_resource(tmp_path, capsys):
    text = EX.replace('role breakglass "arn:aws:iam::111122223333:role/security-breakglass"',
                      'role breakglass "arn:aws:iam::111122223333:role/llm-trainer"')
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E205]" in err and "same AWS resource as `trainer`" in err
    assert located(err, path, 70, 6)


def test_sarif_diagnostics(tmp_path, capsys):
    rc, _, out, path = run(tmp_path, capsys, EX.replace("allow trainer       read", "allow trainr        read"),
                           "--format", "sarif")
    assert rc == 2
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["E201", "W458"]  # W458: the example's eval_vpc
    (res,) = [r for r in run_["results"] if r["ruleId"] != "W458"]
    assert res["ruleId"] == "E201" and res["level"] == "error" and res["ruleIndex"] == 0
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == path
    assert loc["region"] == {"startLine": 117, "startColumn": 7, "endLine": 117, "endColumn": 13}


def test_unknown_endpoint_policies_mode(tmp_path, capsys):
    spec = tmp_path / "s.slp"
    spec.write_text(EXAMPLE.read_text().replace("network prod_vpc {", "network prod_vpc {\n  endpoint_policies exakt", 1))
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "error[E327]: unknown endpoint_policies mode `exakt`" in err and "did you mean `exact`?" in err
    line = spec.read_text().splitlines().index("  endpoint_policies exakt") + 1
    assert f"{spec}:{line}:21: error[E327]" in err and "^^^^^" in err


def test_unknown_key_policy_mode(tmp_path, capsys):
    spec = tmp_path / "s.slp"
    spec.write_text(EXAMPLE.read_text().replace("key model_key {", "key model_key {\n  key_policy exakt", 1))
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "error[E328]: unknown key_policy mode `exakt`" in err and "did you mean `exact`?" in err
    line = spec.read_text().splitlines().index("  key_policy exakt") + 1
    assert f"{spec}:{line}:14: error[E328]" in err and "^^^^^" in err


def test_a_key_policy_mode_is_accepted_by_check(tmp_path, capsys):
    spec = tmp_path / "s.slp"
    spec.write_text(EXAMPLE.read_text().replace("key model_key {", "key model_key {\n  key_policy exact", 1))
    assert main(["check", str(spec)]) == 0
