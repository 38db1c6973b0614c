"""IaC renderings of a build, chosen by `slpc compile --target`."""

from __future__ import annotations

from typing import Sequence

from slpc.compiler.model import Model
from slpc.diagnostics import DiagnosticsError, error
from slpc.targets import Artifact
from slpc.targets.cloudformation import cloudformation_templates
from slpc.targets.terraform import TerraformError, terraform_module

TARGETS = ("json", "terraform", "cloudformation", "all")


def render(target: str, model: Model, artifacts: Sequence[Artifact]) -> dict[str, str]:
    """Extra files (relative path -> text) for the IaC targets; none for plain JSON."""
    files: dict[str, str] = {}
    if target in ("terraform", "all"):
        try:
            files.update(terraform_module(model, artifacts))
        except TerraformError as exc:
            raise DiagnosticsError([error("E610", f"cannot write the Terraform module: {exc}", None,
                                          "Terraform normalises strings to Unicode NFC; write names and "
                                          "prefixes in NFC (most editors do)")]) from None
    if target in ("cloudformation", "all"):
        files.update(cloudformation_templates(model, artifacts))
    return files
