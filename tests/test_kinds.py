"""The artifact-kind table is what the IaC targets emit: each policy kind's Terraform and
CloudFormation resource types come from `slpc.policy.kinds.KINDS`, and every kind has
an emitter in both targets, so a new kind cannot be half wired."""

import re

import yaml

from slpc.app.pipeline import compile_text
from slpc.policy.kinds import KINDS
from slpc.targets import cloudformation, terraform
from slpc.targets.iac import render
from conftest import API_SPEC, EXAMPLE, ROOT

SHARED = ROOT / "examples" / "shared_bucket.slp"


def test_every_policy_kind_has_an_emitter_in_both_iac_targets():
    assert set(KINDS) <= set(terraform.EMITTERS)
    assert set(KINDS) <= set(cloudformation.ATTACHABLE) | set(cloudformation.OWNED)


def test_the_emitted_resources_are_the_tables_types():
    seen: dict[str, set[str]] = {}
    for text, name in ((EXAMPLE.read_text(), "sovereign_llm.slp"), (API_SPEC, "api.slp"),
                       (SHARED.read_text(), SHARED.name)):
        c = compile_text(text, name)
        assert c.ok
        tf = "".join(render("terraform", c.model, c.artifacts).values())
        cfn = [yaml.safe_load(t) for path, t in render("cloudformation", c.model, c.artifacts).items()
               if path.endswith((".yaml", ".yml"))]
        cfn_types = {r["Type"] for t in cfn for r in t.get("Resources", {}).values()}
        tf_types = set(re.findall(r'^resource "(\w+)"', tf, re.M))
        for kind in {a.kind for a in c.artifacts} & set(KINDS):
            assert KINDS[kind].terraform in tf_types, kind
            assert KINDS[kind].cloudformation in cfn_types, kind
            seen.setdefault(kind, set()).add(name)
    assert set(seen) >= set(KINDS) - {"iam-managed-policy"}  # managed policies: tests/test_fit.py
