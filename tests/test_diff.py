"""`slpc diff`: changes in meaning between two specs, classified widens / narrows / neutral."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from slpc.app.commands import diff
from slpc.app.io import IO
from slpc.compiler.check import check
from slpc.compiler.diff import Change, diff_models
from slpc.app.pipeline import compile_text
from slpc.dsl import ast, format_spec, parse
from strategies import PREFIXES, PROPERTY, PUBLIC_CIDRS, UNTILS, specs

from conftest import EXAMPLE

BASE = EXAMPLE.read_text()

TRAINER_WRITE = 'allow trainer       write  weights "checkpoints/" from prod_vpc\n'
INFERENCE_READ = 'allow inference     read   weights "released/"    from prod_vpc\n'
INFERENCE_PULL = "allow inference     pull   serving                from prod_vpc\n"
EVAL_UNTIL = '"2027-06-30T00:00:00Z"'
OFFICE = '  cidr "198.51.100.0/24"\n'


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def model(text: str):
    compiled = compile_text(text, "spec.slp", emit=False)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    return compiled.model


def changes(new_text: str, old_text: str = BASE) -> list[Change]:
    return diff_models(model(old_text), model(new_text))


def effects(cs) -> list[tuple[str, str]]:
    return [(c.kind, c.effect) for c in cs]


# --------------------------------------------------------------------------- #
# Classification on the example


def test_identical_specs_have_no_changes():
    assert changes(BASE) == []


def test_reformatting_and_reordering_is_no_change():
    lines = BASE.splitlines(keepends=True)
    allows = [x for x in lines if x.startswith("allow ")]
    rest = [x for x in lines if not x.startswith("allow ")]
    shuffled = "".join(allows[::-1]) + "\n" + "".join(rest)
    shuffled = shuffled.replace("from prod_vpc, corp_office", "from corp_office,\n   prod_vpc")
    shuffled = shuffled.replace("  ", " ").replace("admins [security_admin]", "admins security_admin")
    shuffled = shuffled.replace(EVAL_UNTIL, '"2027-06-30T02:00:00+02:00"')
    assert shuffled != BASE
    assert changes(shuffled) == []


def test_added_grant_widens():
    cs = changes(BASE + "allow trainer list weights from prod_vpc\n")
    assert effects(cs) == [("grant-added", "widens")]
    c = cs[0]
    assert (c.principal, c.verb, c.asset, c.prefix, c.networks, c.until) == ("trainer", "list", "weights", "",
                                                                              ("prod_vpc",), None)
    assert c.subject == "allow trainer list weights from prod_vpc"
    assert "trainer may list everything in bucket weights from prod_vpc" in c.description


def test_removed_grant_narrows():
    cs = changes(edit(INFERENCE_PULL, ""))
    assert effects(cs) == [("grant-removed", "narrows")]
    assert "inference may no longer pull images from repository serving" in cs[0].description


def test_network_added_to_grant_widens_from_that_network():
    cs = changes(edit(TRAINER_WRITE, 'allow trainer write weights "checkpoints/" from prod_vpc, corp_office\n'))
    assert effects(cs) == [("grant-network-added", "widens")]
    assert cs[0].network == "corp_office"
    assert cs[0].networks == ("prod_vpc", "corp_office")
    assert "also from network corp_office" in cs[0].description


def test_network_removed_from_grant_narrows():
    cs = changes(edit("from prod_vpc, corp_office", "from prod_vpc"))
    assert effects(cs) == [("grant-network-removed", "narrows")]
    assert cs[0].network == "corp_office" and cs[0].old == "corp_office"


@pytest.mark.parametrize("until, effect", [
    ('"2028-06-30T00:00:00Z"', "widens"),
    ('"2027-01-01T00:00:00Z"', "narrows"),
    ('"2027-06-30T03:00:00+02:00"', "widens"),  # 01:00 UTC: one hour later
])
def test_until_moved(until, effect):
    cs = changes(edit(EVAL_UNTIL, until))
    assert effects(cs) == [("grant-until-changed", effect)]
    assert cs[0].old == "2027-06-30T00:00:00Z"


def test_until_removed_widens_and_added_narrows():
    no_end = edit(' until "2027-06-30T00:00:00Z"', "")
    assert effects(changes(no_end)) == [("grant-until-changed", "widens")]
    assert effects(changes(BASE, old_text=no_end)) == [("grant-until-changed", "narrows")]


def test_shorter_prefix_widens_longer_narrows():
    shorter = edit(INFERENCE_READ, "allow inference read weights from prod_vpc\n")
    cs = changes(shorter)
    assert effects(cs) == [("grant-prefix-changed", "widens")]
    assert (cs[0].old, cs[0].new) == ("released/", "")
    assert "everything in bucket weights" in cs[0].description
    longer = edit(INFERENCE_READ, 'allow inference read weights "released/v2/" from prod_vpc\n')
    assert effects(changes(longer)) == [("grant-prefix-changed", "narrows")]


def test_unrelated_prefix_is_a_removal_and_an_addition():
    moved = edit(INFERENCE_READ, 'allow inference read weights "staging/" from prod_vpc\n')
    assert sorted(effects(changes(moved))) == [("grant-added", "widens"), ("grant-removed", "narrows")]


def test_cidr_added_to_corp_office_widens_the_grants_that_use_it():
    cs = changes(edit(OFFICE, OFFICE + '  cidr "203.0.113.0/24"\n'))
    assert effects(cs) == [("network-cidr-added", "widens")]
    assert cs[0].network == "corp_office" and cs[0].new == "203.0.113.0/24"
    assert "allow deployer push serving from prod_vpc, corp_office" in cs[0].description


def test_cidr_on_an_unused_network_is_neutral():
    spec = BASE + '\nnetwork spare {\n  cidr "203.0.113.0/24"\n}\n'
    cs = changes(edit('network spare {\n  cidr "203.0.113.0/24"', 'network spare {\n  cidr "192.0.2.0/24"', spec),
                 old_text=spec)
    assert sorted(effects(cs)) == [("network-cidr-added", "neutral"), ("network-cidr-removed", "neutral")]


def test_kms_endpoint_change_is_neutral():
    cs = changes(edit('endpoint kms               "vpce-01a2b3c4d5e6f7a83"',
                      'endpoint kms               "vpce-01a2b3c4d5e6f7a8f"'))
    assert sorted(effects(cs)) == [("network-endpoint-added", "neutral"), ("network-endpoint-removed", "neutral")]


def test_admins_changed():
    repo = "repository serving {\n  name   \"llm-serving\"\n  admins [security_admin]"
    cs = changes(edit(repo, repo.replace("[security_admin]", "[security_admin, breakglass]")))
    assert effects(cs) == [("repository-admin-added", "widens")]
    assert cs[0].new == "breakglass" and cs[0].asset == "serving"
    cs = changes(edit(repo, repo.replace("  admins [security_admin]", "")))
    assert effects(cs) == [("repository-admin-removed", "narrows")]


def test_breakglass_object_lock_audit_signature_age_guardrails():
    no_bg = edit("  breakglass  [breakglass]\n", "")
    assert effects(changes(no_bg)) == [("bucket-breakglass-removed", "narrows")]
    assert effects(changes(edit("governance 365 days", "governance 30 days"))) == [
        ("bucket-object-lock-changed", "widens")]
    assert effects(changes(edit("governance 365 days", "compliance 365 days"))) == [
        ("bucket-object-lock-changed", "narrows")]
    assert effects(changes(edit("  object_lock governance 365 days\n", ""))) == [
        ("bucket-object-lock-changed", "widens")]
    assert effects(changes(edit("  audit   data_events\n", ""))) == [("bucket-audit-removed", "widens")]
    longer = edit("  admins  [security_admin]\n}\n\nrepository",
                  "  admins  [security_admin]\n  signature_age 2 hours\n}\n\nrepository")
    cs = changes(longer)
    assert effects(cs) == [("bucket-signature-age-changed", "widens")]
    assert (cs[0].old, cs[0].new) == ("15 minutes", "2 hours")
    scp_only = edit('  regions   ["eu-central-1"]\n', '  regions   ["eu-central-1"]\n  guardrails [scp]\n')
    assert effects(changes(scp_only)) == [("deployment-guardrail-removed", "widens")]
    assert effects(changes(BASE, old_text=scp_only)) == [("deployment-guardrail-added", "narrows")]


def test_verb_downgrade_is_a_narrowing_and_an_already_covered_grant():
    cs = changes(edit("deployer      push", "deployer      pull"))
    assert sorted(effects(cs)) == [("grant-added", "neutral"), ("grant-removed", "narrows")]
    added = next(c for c in cs if c.kind == "grant-added")
    assert "allow deployer push serving from prod_vpc, corp_office" in added.description


def test_grant_inside_an_existing_one_is_neutral():
    cs = changes(BASE + 'allow inference read weights "released/v2/" from prod_vpc\n')
    assert effects(cs) == [("grant-added", "neutral")]
    assert "adds no access" in cs[0].description


def test_a_new_grant_widens_and_says_what_it_allows():
    cs = changes(BASE + 'allow inference read weights "drafts/" from prod_vpc\n')
    assert effects(cs) == [("grant-added", "widens")]
    assert cs[0].description == ('new grant: inference may read keys under "drafts/" in bucket weights '
                                 "from prod_vpc, with no end date")


def test_removing_a_grant_inside_another_keeps_the_access():
    nested = BASE + 'allow inference read weights "released/v2/" from prod_vpc\n'
    cs = changes(BASE, old_text=nested)
    assert effects(cs) == [("grant-removed", "neutral")]
    assert "grant removed, but inference keeps the access" in cs[0].description
    assert "released/" in cs[0].description.split("through", 1)[1]


def test_role_arn_change_moves_access():
    cs = changes(edit("role/llm-trainer", "role/llm-trainer-v2"))
    assert sorted(effects(cs)) == [("role-arn-changed", "narrows"), ("role-arn-changed", "widens")]


def test_bucket_renamed_moves_its_grants():
    cs = changes(edit('"acme-llm-weights"', '"acme-llm-weights-2"'))
    assert sorted(effects(cs)) == [("bucket-resource-changed", "narrows"), ("bucket-resource-changed", "widens")]
    assert all(c.asset == "weights" for c in cs)


def test_changes_are_frozen_and_ordered():
    cs = changes(edit(INFERENCE_PULL, "") + "allow trainer list weights from prod_vpc\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cs[0].effect = "neutral"  # type: ignore[misc]
    assert [c.effect for c in cs] == ["widens", "narrows"]


# --------------------------------------------------------------------------- #
# The command: formats and exit codes


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slpc diff")
    diff.add_arguments(p)
    return p


def run(argv: list[str]) -> int:
    return diff.run(_parser().parse_args(argv), IO())


@pytest.fixture
def pair(tmp_path):
    old, new = tmp_path / "old.slp", tmp_path / "new.slp"
    old.write_text(BASE)
    new.write_text(edit(OFFICE, OFFICE + '  cidr "203.0.113.0/24"\n', edit(INFERENCE_PULL, "")))
    return str(old), str(new)


def test_text_output_and_exit_codes(pair, capsys):
    assert run(list(pair)) == 0
    out = capsys.readouterr().out
    assert "2 change(s): 1 widen access, 1 narrow access, 0 neutral" in out
    assert "+ widens" in out and "- narrows" in out
    assert run([*pair, "--fail-on-widen"]) == 1
    assert run([pair[0], pair[0], "--fail-on-widen"]) == 0
    assert "no change in meaning" in capsys.readouterr().out
    assert run([pair[1], pair[0], "--fail-on-widen"]) == 1  # backwards: the pull grant comes back


def test_narrowing_alone_passes_the_gate(tmp_path, capsys):
    old, new = tmp_path / "old.slp", tmp_path / "new.slp"
    old.write_text(BASE)
    new.write_text(edit(INFERENCE_PULL, ""))
    assert run([str(old), str(new), "--fail-on-widen"]) == 0
    assert "- narrows" in capsys.readouterr().out


def test_json_output_shape(pair, capsys):
    assert run([*pair, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "slpc-diff" and doc["version"] == 1
    assert doc["old"] == pair[0] and doc["new"] == pair[1]
    assert doc["summary"] == {"widens": 1, "narrows": 1, "neutral": 0}
    keys = {"kind", "effect", "subject", "description", "principal", "verb", "asset", "prefix", "networks",
            "until", "network", "old", "new"}
    assert all(set(c) == keys for c in doc["changes"])
    first, second = doc["changes"]
    assert (first["kind"], first["effect"], first["network"], first["new"]) == (
        "network-cidr-added", "widens", "corp_office", "203.0.113.0/24")
    assert (second["kind"], second["principal"], second["verb"], second["asset"], second["networks"]) == (
        "grant-removed", "inference", "pull", "serving", ["prod_vpc"])


def test_markdown_output(pair, capsys):
    assert run([*pair, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("**slpc diff**") and "widens access" in lines[0]
    for title in ("### Access added", "### Access removed", "### Other changes"):
        assert title in lines
    added = out.split("### Access added")[1].split("### Access removed")[0]
    removed = out.split("### Access removed")[1].split("### Other changes")[0]
    other = out.split("### Other changes")[1]
    assert "| network-cidr-added | `network corp_office` |" in added
    assert "| grant-removed | `allow inference pull serving from prod_vpc` |" in removed
    assert "None." in other
    assert "| change | in the spec | what it means |" in added


def test_directory_side(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / "all.slp").write_text(BASE)
    allows = "".join(x for x in BASE.splitlines(keepends=True) if x.startswith("allow "))
    (new / "a_decls.slp").write_text("".join(x for x in BASE.splitlines(keepends=True) if not x.startswith("allow ")))
    (new / "b_grants.slp").write_text(allows)
    assert run([str(old), str(new), "--fail-on-widen"]) == 0
    assert "no change in meaning" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run([str(old), str(empty)]) == 2
    assert "holds no .slp files" in capsys.readouterr().err


def test_bad_side_exits_2_with_rendered_diagnostics(tmp_path, pair, capsys):
    bad = tmp_path / "bad.slp"
    bad.write_text(edit("allow trainer       read   finetune_data", "allow trainr       read   finetune_data"))
    assert run([pair[0], str(bad), "--fail-on-widen"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error[E201]: unknown role `trainr`" in captured.err
    assert "did you mean `trainer`?" in captured.err
    assert "Traceback" not in captured.err
    assert run([str(tmp_path / "missing.slp"), pair[0]]) == 2
    assert "error[E001]" in capsys.readouterr().err


def test_usage_errors_exit_2(pair, capsys):
    assert run([pair[0]]) == 2
    assert "give two paths" in capsys.readouterr().err
    assert run(["--git", "HEAD"]) == 2


# --------------------------------------------------------------------------- #
# --git


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    _git(root, "init", "-q")
    (root / "specs" / "llm.slp").write_text(BASE)
    _git(root, "add", "specs/llm.slp")
    _git(root, "commit", "-q", "-m", "spec")
    monkeypatch.chdir(root / "specs")  # paths are relative to the working directory, not the repository root
    return root


def test_git_mode_compares_revision_with_working_tree(repo, capsys):
    assert run(["--git", "HEAD", "--", "llm.slp"]) == 0
    assert "no change in meaning" in capsys.readouterr().out
    (repo / "specs" / "llm.slp").write_text(edit(TRAINER_WRITE, 'allow trainer write weights "checkpoints/" '
                                                              "from prod_vpc, corp_office\n"))
    assert run(["--git", "HEAD", "--format", "json", "--", "llm.slp"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["old"] == "HEAD" and doc["new"] == "working tree"
    assert [(c["kind"], c["effect"]) for c in doc["changes"]] == [("grant-network-added", "widens")]
    assert run(["--git", "HEAD", "--fail-on-widen", "--", "llm.slp"]) == 1


def test_git_mode_new_file_and_errors(repo, capsys):
    # a file added since the revision is absent from the old side
    (repo / "specs" / "extra.slp").write_text("allow trainer list weights from prod_vpc\n")
    assert run(["--git", "HEAD", "--format", "json", "--", "llm.slp", "extra.slp"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(c["kind"], c["effect"]) for c in doc["changes"]] == [("grant-added", "widens")]
    assert run(["--git", "no-such-rev", "--", "llm.slp"]) == 2
    assert "unknown git revision" in capsys.readouterr().err
    assert run(["--git", "HEAD", "--", "extra.slp"]) == 2
    assert "exists at revision HEAD" in capsys.readouterr().err
    (repo / "specs" / "llm.slp").write_text("deployment {\n")
    assert run(["--git", "HEAD", "--", "llm.slp"]) == 2
    err = capsys.readouterr().err
    assert "working tree side does not compile" in err and "error[" in err and "Traceback" not in err


def test_git_mode_old_side_errors_are_named_by_revision(repo, capsys):
    (repo / "specs" / "llm.slp").write_text(edit("role trainer ", "role trainer2"))
    _git(repo, "commit", "-q", "-am", "broken")
    (repo / "specs" / "llm.slp").write_text(BASE)
    assert run(["--git", "HEAD", "--", "llm.slp"]) == 2
    assert "HEAD:specs/llm.slp:" in capsys.readouterr().err


def test_git_mode_outside_a_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.slp").write_text(BASE)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert run(["--git", "HEAD", "--", "a.slp"]) == 2
    assert "not in one" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# Properties


def _model(spec: ast.Spec):
    result = check([spec])
    if any(d.is_error for d in result.diagnostics):
        return None
    return result.model


@st.composite
def edited(draw, spec: ast.Spec) -> ast.Spec:
    """A few random edits of the kinds reviewers care about."""
    decls = list(spec.declarations)
    for _ in range(draw(st.integers(1, 3))):
        grants = [i for i, d in enumerate(decls) if isinstance(d, ast.Allow)]
        nets = [d for d in decls if isinstance(d, ast.Network)]
        what = draw(st.sampled_from(("drop", "network", "until", "prefix", "cidr", "copy", "admins")))
        if what == "cidr" or not grants and what != "admins":
            i = draw(st.sampled_from([i for i, d in enumerate(decls) if isinstance(d, ast.Network)]))
            n = decls[i]
            extra = draw(st.sampled_from(PUBLIC_CIDRS))
            cidrs = n.cidrs + (ast.Str(extra),) if draw(st.booleans()) or not n.cidrs else n.cidrs[1:]
            if cidrs or n.endpoints:
                decls[i] = dataclasses.replace(n, cidrs=tuple(dict.fromkeys(cidrs)))
            continue
        if what == "admins":
            i = draw(st.sampled_from([i for i, d in enumerate(decls) if isinstance(d, (ast.Bucket, ast.Repository))]))
            decls[i] = dataclasses.replace(decls[i], admins=decls[i].admins[1:])
            continue
        i = draw(st.sampled_from(grants))
        g = decls[i]
        if what == "drop":
            del decls[i]
        elif what == "network":
            n = ast.Name(draw(st.sampled_from(nets)).name.text)
            names = g.networks + (n,) if n not in g.networks else tuple(x for x in g.networks if x != n) or g.networks
            decls[i] = dataclasses.replace(g, networks=names)
        elif what == "until":
            u = draw(st.sampled_from((None,) + UNTILS))
            decls[i] = dataclasses.replace(g, until=ast.Str(u) if u else None)
        elif what == "prefix":
            p = draw(st.sampled_from(PREFIXES))
            decls[i] = dataclasses.replace(g, prefix=ast.Str(p) if p else None)
        else:
            decls.insert(draw(st.integers(0, len(decls))), dataclasses.replace(g, verb=g.verb))
    return ast.Spec(tuple(decls))


@PROPERTY
@pytest.mark.property
@given(specs(), st.data())
def test_diff_is_empty_on_itself_and_symmetric(spec, data):
    a = _model(spec)
    assume(a is not None)
    assert diff_models(a, a) == []
    # reordering and reformatting change nothing
    shuffled = data.draw(st.permutations(spec.declarations))
    assert diff_models(a, _model(parse(format_spec(ast.Spec(tuple(shuffled)))).spec)) == []
    b = _model(data.draw(edited(spec)))
    assume(b is not None)
    forward, backward = diff_models(a, b), diff_models(b, a)
    widens = lambda cs: any(c.effect == "widens" for c in cs)  # noqa: E731
    narrows = lambda cs: any(c.effect == "narrows" for c in cs)  # noqa: E731
    assert widens(forward) == narrows(backward)
    assert narrows(forward) == widens(backward)
    assert (forward == []) == (backward == [])
    assert all(c.effect in ("widens", "narrows", "neutral") and c.description for c in forward)
