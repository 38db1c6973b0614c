"""Role trust policies as the lint reads them: slpc's own trust policies are clean, the
identity providers' claim keys are known there and only there, and lint-policy takes the type."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import pytest

from slpc.app.pipeline import compile_text
from slpc.policy.limits import RULES
from slpc.verify.catalogue import Catalogue
from slpc.verify.lint import lint
from slpc.verify.lint.size import SIZE_LIMITS
from slpc.verify.lint.trust import claims_catalogue
from test_lint_command import call

TRUST = "AWS::IAM::AssumeRolePolicyDocument"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp"
GITHUB = "token.actions.githubusercontent.com"


def web_identity(condition: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition,
        "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{GITHUB}"}}]}


PINNED = web_identity({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com",
                                        f"{GITHUB}:sub": "repo:acme/llm:environment:production"}})


def codes(policy: dict, policy_type: str = "resource", resource_type: str | None = TRUST) -> set[str]:
    return {f.issue_code for f in lint(json.dumps(policy), policy_type, resource_type)}


def test_the_examples_trust_policies_have_no_finding_at_all():
    built = compile_text(EXAMPLE.read_text(), EXAMPLE.name)
    trusts = [a for a in built.artifacts if a.kind == "iam-role-trust-policy"]
    assert trusts
    for art in trusts:
        assert lint(art.text, "resource", TRUST) == [], art.path


def test_claim_keys_are_known_in_a_trust_policy_only():
    assert codes(PINNED) == set()
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::m/*",
                 "Condition": {"StringEquals": {f"{GITHUB}:sub": "repo:acme/llm:ref:refs/heads/main"}}}
    assert "INVALID_SERVICE" in codes({"Version": "2012-10-17", "Statement": [statement]}, "identity", None)
    bucket = {**statement, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    assert "INVALID_SERVICE" in codes({"Version": "2012-10-17", "Statement": [bucket]}, "resource", "AWS::S3::Bucket")


@pytest.mark.parametrize("key, operator, code", [
    (f"{GITHUB}:subject", "StringEquals", "INVALID_SERVICE_CONDITION_KEY"),  # no claim IAM offers
    (f"{GITHUB}:sub", "IpAddress", "TYPE_MISMATCH"),  # a claim is a string
    ("cognito-identity.amazonaws.com:amr", "ForAnyValue:StringLike", None),  # a list, with a set operator
])
def test_claim_keys_are_judged_as_iam_offers_them(key, operator, code):
    condition = json.loads(json.dumps(PINNED["Statement"][0]["Condition"]))
    condition.setdefault(operator, {})[key] = "203.0.113.0/24" if operator == "IpAddress" else "authenticated"
    found = codes(web_identity(condition))
    assert found == ({code} if code else set())


def test_a_trust_statement_needs_a_principal():
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole"}
    assert "MISSING_PRINCIPAL" in codes({"Version": "2012-10-17", "Statement": [statement]})


def test_the_trust_size_quota_is_limits_rule():
    assert SIZE_LIMITS[("resource", TRUST)].rule == RULES["iam-role-trust-policy"]


def test_one_claims_catalogue_per_catalogue_which_it_does_not_keep_alive():
    loose = web_identity({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"}})
    assert codes(loose) == {f.issue_code for f in lint(json.dumps(loose), "resource", TRUST, catalogue=Catalogue())} != set()
    cat = Catalogue()
    assert claims_catalogue(cat) is claims_catalogue(cat)
    gone = weakref.ref(cat)
    del cat
    gc.collect()
    assert gone() is None


def test_lint_policy_takes_the_trust_policy_type(tmp_path):
    clean, dirty = tmp_path / "clean.json", tmp_path / "dirty.json"
    clean.write_text(json.dumps(PINNED))
    dirty.write_text(json.dumps(web_identity({})))
    args = ("--type", "resource", "--resource-type", TRUST, "--format", "json")
    code, out, _ = call(tmp_path, clean, *args)
    assert code == 0 and json.loads(out)["files"][0]["findings"] == []
    code, out, _ = call(tmp_path, dirty, *args)
    found = {f["issueCode"] for f in json.loads(out)["files"][0]["findings"]}
    assert code == 1 and "MISSING_GITHUB_REPO_CONDITION_KEY" in found
