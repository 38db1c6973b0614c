"""What CI and editors integrate with: pre-commit hooks, --version, IAM linters."""

import shlex

import parliament
import pytest
import yaml

from slpc import __version__
from slpc.app.pipeline import compile_text
from slpc.policy.kinds import LINT_TYPES
from slpc.app.cli import main, parser
from conftest import EXAMPLE, ROOT


def test_pre_commit_hooks_run_real_commands(tmp_path):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"slpc-fmt", "slpc-check"}
    commands = set(parser()._subparsers._group_actions[0].choices)
    for hook in hooks:
        prog, command, *_ = shlex.split(hook["entry"])
        assert prog == "slpc" and command in commands
        assert hook["files"] == r"\.slp$"


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"slpc {__version__}"


def test_parliament_reads_every_policy():
    """Parliament (Duo Labs' IAM linter) crashed on one-element condition lists under `Bool`;
    slpc writes single values as scalars, as AWS's examples do."""
    compiled = compile_text(EXAMPLE.read_text(), "sovereign_llm.slp")
    policies = [a for a in compiled.artifacts if a.kind in LINT_TYPES]
    assert len(policies) > 10
    for art in policies:
        parliament.analyze_policy_string(art.text, include_community_auditors=False)  # raises if it cannot
