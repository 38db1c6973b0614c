"""`slpc diff OLD NEW` / `slpc diff --git REV -- FILE...`: read both sides, compile them,
and print what access the change adds and removes (docs/diff.md).

Exit codes: 0, 1 with --fail-on-widen when a change widens access, 2 usage or a side
that does not compile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from slpc.compiler.diff import WIDENS, diff_models
from slpc.compiler.model import Model
from slpc.diagnostics import Diagnostic, DiagnosticsError, error, render
from slpc.dsl import source as dsl_source

from .. import exits
from ..formats import DIFF, add_format
from ..diff_render import format_markdown, format_text, to_json
from ..io import IO
from ..pipeline import compile_sources

NAME = "diff"
HELP = "what access a change adds and removes, in the spec's terms"


class _UsageError(Exception):
    pass


@dataclass
class _Side:
    label: str
    sources: list[dsl_source.Source] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _read_path(path: str) -> _Side:
    """One side given as a path: a spec file, or a directory whose *.slp files form one deployment."""
    side = _Side(path)
    p = Path(path)
    if path != "-" and p.is_dir():
        files = sorted(str(f) for f in p.glob("*.slp") if f.is_file())
        if not files:
            side.diagnostics.append(error("E001", f"{path} holds no .slp files", None,
                                          "give a spec file, or a directory of .slp files"))
            return side
    else:
        files = [path]
    for f in files:
        try:
            side.sources.append(dsl_source.read(f))
        except DiagnosticsError as exc:
            side.diagnostics += exc.diagnostics
    return side


def _git(args: Sequence[str], cwd: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    except OSError as exc:
        raise _UsageError(f"cannot run git: {exc.strerror or exc}") from None


def _read_git(rev: str, paths: Sequence[str]) -> tuple[_Side, _Side]:
    """The old side is each file at `rev`, the new side the working tree; a file missing on
    one side (added or deleted since `rev`) is simply absent from that side."""
    cwd = os.getcwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise _UsageError("--git needs a git repository: the current directory is not in one")
    root = os.path.realpath(top.stdout.decode("utf-8", "replace").strip())
    if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root).returncode != 0:
        raise _UsageError(f"unknown git revision `{rev}`")
    old, new = _Side(rev), _Side("working tree")
    for path in paths:
        if path == "-":
            raise _UsageError("--git compares files: `-` (standard input) has no history")
        rel = os.path.relpath(os.path.realpath(path), root)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise _UsageError(f"{path} is outside the repository {root}")
        if os.path.isdir(path):
            raise _UsageError(f"{path} is a directory: with --git, name the spec files")
        git_path = rel.replace(os.sep, "/")
        if _git(["cat-file", "-e", f"{rev}:{git_path}"], root).returncode == 0:
            shown = _git(["show", f"{rev}:{git_path}"], root)
            if shown.returncode != 0:
                raise _UsageError(f"git show {rev}:{git_path} failed: "
                                  + shown.stderr.decode("utf-8", "replace").strip())
            try:
                old.sources.append(dsl_source.decode(f"{rev}:{git_path}", shown.stdout))
            except DiagnosticsError as exc:
                old.diagnostics += exc.diagnostics
        if os.path.exists(path):
            try:
                new.sources.append(dsl_source.read(path))
            except DiagnosticsError as exc:
                new.diagnostics += exc.diagnostics
    if not old.sources and not old.diagnostics:
        raise _UsageError(f"none of {', '.join(paths)} exists at revision {rev}")
    if not new.sources and not new.diagnostics:
        raise _UsageError(f"none of {', '.join(paths)} exists in the working tree")
    return old, new


def _compile(side: _Side, io: IO) -> Model | None:
    texts = {s.name: s.text for s in side.sources}
    diags = list(side.diagnostics)
    model = None
    if not diags:
        compiled = compile_sources(side.sources, emit=True)
        diags = compiled.diagnostics
        model = compiled.model if compiled.ok else None
    if model is None:
        errors = [d for d in diags if d.is_error]
        print(f"slpc diff: the {side.label} side does not compile:", file=io.err)
        for d in errors:
            print(render(d, texts), file=io.err)
            print(file=io.err)
        print(f"{len(errors)} error(s)", file=io.err)
    return model


# --------------------------------------------------------------------------- #
# The command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Show what access a spec change adds and removes, compared by meaning "
                          "(see docs/diff.md).")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="OLD NEW (each a spec file or a directory of .slp files); "
                             "with --git, the spec files of one deployment")
    parser.add_argument("--git", metavar="REV",
                        help="compare the files at git revision REV (old) with the working tree (new)")
    add_format(parser, DIFF, "text (default), json for tools, or markdown for a pull-request comment")
    parser.add_argument("--fail-on-widen", action="store_true",
                        help="exit 1 when any change widens access")


def run(args: argparse.Namespace, io: IO) -> int:
    paths = list(args.paths)
    try:
        if args.git is not None:
            if not paths:
                raise _UsageError("--git REV needs the spec files to compare: slpc diff --git REV -- spec.slp")
            old_side, new_side = _read_git(args.git, paths)
        else:
            if len(paths) != 2:
                raise _UsageError("give two paths (slpc diff OLD NEW), or --git REV -- FILE...")
            old_side, new_side = _read_path(paths[0]), _read_path(paths[1])
    except _UsageError as exc:
        print(f"slpc diff: error: {exc}", file=io.err)
        return exits.USAGE
    old_model, new_model = _compile(old_side, io), _compile(new_side, io)
    if old_model is None or new_model is None:
        return exits.USAGE
    changes = diff_models(old_model, new_model)
    if args.format == "json":
        io.out.write(json.dumps(to_json(changes, old_side.label, new_side.label), indent=2, sort_keys=True)
                         + "\n")
    elif args.format == "markdown":
        io.out.write(format_markdown(changes, old_side.label, new_side.label))
    else:
        io.out.write(format_text(changes, old_side.label, new_side.label))
    if args.fail_on_widen and any(c.effect == WIDENS for c in changes):
        return exits.FINDINGS
    return exits.OK
