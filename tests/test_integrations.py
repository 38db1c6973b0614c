"""What CI and editors integrate with: pre-commit hooks, --version."""

import shlex

import pytest
import yaml

from slpc import __version__
from slpc.app.cli import main, parser
from conftest import ROOT


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
