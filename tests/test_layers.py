"""The layering of docs/architecture.md, checked by import-linter on the real import
graph: the contracts in pyproject.toml pass, and a backward import makes them fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")


def _tree(dest: Path) -> Path:
    """The `slpc` package laid out as an install lays it out (setuptools' package-dir
    maps folders such as dsl/ to slpc.dsl; import-linter reads files below one folder)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(config.items(), key=lambda kv: kv[0].count(".")):
        target = dest.joinpath(*package.split("."))
        if package == "slpc":
            target.mkdir(parents=True)
            shutil.copy(ROOT / folder / "__init__.py", target / "__init__.py")
        else:
            shutil.copytree(ROOT / folder, target, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tree, env=env, capture_output=True, text=True)


pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed")


def test_the_layers_hold(tmp_path):
    run = _lint(_tree(tmp_path / "tree"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize("module, line", [
    ("compiler/check.py", "import slpc.targets"),  # a stage reaching a later one
    ("policy/limits.py", "from slpc.app import exits"),  # a kernel importing the application
    ("dsl/ast.py", "import slpc.policy.document"),  # the syntax learning AWS
])
def test_a_backward_import_breaks_a_contract(tmp_path, module, line):
    tree = _tree(tmp_path / "tree")
    package, name = module.split("/")
    path = tree / "slpc" / package / name
    path.write_text(path.read_text() + f"\n{line}  # deliberately backward\n")
    run = _lint(tree)
    assert run.returncode == 1, run.stdout
    assert "BROKEN" in run.stdout and f"slpc.{package}.{name[:-3]}" in run.stdout
