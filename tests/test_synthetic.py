"""The benchmark generator writes valid, deterministic deployments within AWS's limits
(small sizes here; benchmarks/run.py compiles the large ones)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from slpc.app.pipeline import compile_text
from slpc.dsl import format_spec, parse

_SPEC = importlib.util.spec_from_file_location(
    "synthetic", Path(__file__).resolve().parent.parent / "benchmarks" / "synthetic.py")
synthetic = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(synthetic)


@pytest.mark.parametrize("grants", [1, 10, 45])
def test_generated_deployments_compile_with_exactly_the_grants_asked_for(grants):
    text = synthetic.deployment(grants)
    assert len(re.findall(r"^allow ", text, re.M)) == grants
    c = compile_text(text, "synthetic.slp")
    assert c.ok, [d.message for d in c.diagnostics if d.is_error]
    assert len(c.model.grants) == grants  # none dropped as a repeat
    assert not [d for d in c.diagnostics if d.code == "W332"]  # every team pulls its images


def test_generation_is_deterministic_per_seed():
    assert synthetic.deployment(60, seed=3) == synthetic.deployment(60, seed=3)
    assert synthetic.deployment(60, seed=3) != synthetic.deployment(60, seed=4)


def test_generated_text_is_canonically_formatted_up_to_blank_lines():
    text = synthetic.deployment(25)
    assert parse(format_spec(parse(text).spec)).spec == parse(text).spec


def test_the_quota_attribute_and_guardrails_pass_through():
    text = synthetic.deployment(30, managed_policies=4, guardrails=True)
    c = compile_text(text, "synthetic.slp")
    assert c.ok and c.model.deployment.managed_policies == 4
    assert {a.kind for a in c.artifacts} >= {"scp", "rcp"}


def test_rejects_zero_grants():
    with pytest.raises(ValueError):
        synthetic.deployment(0)
