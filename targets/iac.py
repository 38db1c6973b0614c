"""The IaC renderers behind `slpc compile --target`: a name, and a function from the
build to extra files. A new target is one module and one row here. The renderers'
modules (and Jinja) are imported only when a target asks for them."""

from __future__ import annotations

from typing import Callable, Sequence

from slpc.compiler.model import Model
from slpc.diagnostics import DiagnosticsError, error

from .artifact import Artifact


def _terraform(model: Model, artifacts: Sequence[Artifact]) -> dict[str, str]:
    from .terraform import TerraformError, terraform_module
    try:
        return terraform_module(model, artifacts)
    except TerraformError as exc:
        raise DiagnosticsError([error("E610", f"cannot write the Terraform module: {exc}", None,
                                      "Terraform normalises strings to Unicode NFC; write names and "
                                      "prefixes in NFC (most editors do)")]) from None


def _cloudformation(model: Model, artifacts: Sequence[Artifact]) -> dict[str, str]:
    from .cloudformation import cloudformation_templates
    return cloudformation_templates(model, artifacts)


Renderer = Callable[[Model, Sequence[Artifact]], dict[str, str]]
RENDERERS: dict[str, Renderer] = {"terraform": _terraform, "cloudformation": _cloudformation}
# `json`: the policy documents alone; `all`: the documents and every renderer.
TARGETS = ("json", *RENDERERS, "all")


def render(target: str, model: Model, artifacts: Sequence[Artifact]) -> dict[str, str]:
    """Extra files (relative path -> text) for the IaC targets; none for plain JSON."""
    files: dict[str, str] = {}
    for name, renderer in RENDERERS.items():
        if target in (name, "all"):
            files.update(renderer(model, artifacts))
    return files
