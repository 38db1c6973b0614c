"""Deployed against compiled policies by meaning (pure: no AWS).

Reordering statements, reordering values and re-formatting JSON never drift;
removing the perimeter Deny always drifts with a request from outside the perimeter.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_sources, compile_text, read_sources
from slpc.dsl.formatter import format_spec
from slpc.policy.document import PolicyDocument, Statement, from_json, to_json
from slpc.verify.live.compare import EXTRA, MISSING, _outside_ip, compare, instantiate
from strategies import EXAMPLES, specs

from conftest import EXAMPLE

FEW = settings(max_examples=min(EXAMPLES, 30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICY_KINDS = {"s3-bucket-policy", "kms-key-policy", "ecr-repository-policy", "iam-identity-policy",
                "vpc-endpoint-policy"}


@lru_cache(maxsize=1)
def example_artifacts():
    sources, _ = read_sources([str(EXAMPLE)])
    return tuple(a for a in compile_sources(sources).artifacts if a.kind in POLICY_KINDS)


@lru_cache(maxsize=1)
def trust_artifacts():
    sources, _ = read_sources([str(EXAMPLE)])
    return tuple(a for a in compile_sources(sources).artifacts if a.kind == "iam-role-trust-policy")


def by_path(path):
    return next(a for a in example_artifacts() + trust_artifacts() if a.path == path)


def drop(doc: PolicyDocument, sid: str) -> PolicyDocument:
    kept = tuple(s for s in doc.statements if s.sid != sid)
    assert len(kept) < len(doc.statements), sid
    return PolicyDocument(kept, doc.version)


@pytest.mark.parametrize("path", [a.path for a in example_artifacts()])
def test_every_example_policy_is_in_sync_with_itself(path):
    a = by_path(path)
    assert compare(a.document, a.document, a.kind, a.target, a.account) == []


def test_instantiate():
    assert instantiate("arn:aws:s3:::b/checkpoints/*") == "arn:aws:s3:::b/checkpoints/x"
    assert instantiate("s3:Get?bject") == "s3:Getxbject"
    assert instantiate("arn:aws:s3:::b/${aws:username}/*") == "arn:aws:s3:::b/x/x"


def _reformatted(doc: PolicyDocument, rnd) -> PolicyDocument:
    """Shuffle statements and list values, vary JSON layout, and read it back."""
    obj = to_json(doc)
    sts = obj["Statement"]
    rnd.shuffle(sts)
    for s in sts:
        for k in ("Action", "Resource", "NotAction", "NotResource"):
            if isinstance(s.get(k), list):
                rnd.shuffle(s[k])
                if len(s[k]) == 1 and rnd.random() < 0.5:
                    s[k] = s[k][0]
        for block in s.get("Condition", {}).values():
            for key, vals in block.items():
                if isinstance(vals, list):
                    rnd.shuffle(vals)
    text = json.dumps(obj, indent=rnd.choice([None, 1, 4]), sort_keys=rnd.random() < 0.5,
                      separators=rnd.choice([(",", ":"), (", ", ": ")]))
    return from_json(json.loads(text))


@pytest.mark.property
@FEW
@given(path=st.sampled_from(["ecr/serving.json", "kms/model_key.json", "s3/finetune_data.json",
                             "iam/111122223333/inference.json", "vpce/vpce-01a2b3c4d5e6f7a80.json"]),
       rnd=st.randoms(use_true_random=False))
def test_shuffled_and_reformatted_policies_never_drift(path, rnd):
    a = by_path(path)
    assert compare(_reformatted(a.document, rnd), a.document, a.kind, a.target, a.account) == []


@pytest.mark.parametrize("path", ["s3/weights.json", "s3/finetune_data.json", "ecr/serving.json"])
def test_removing_the_perimeter_deny_drifts_with_an_outside_request(path):
    a = by_path(path)
    found = compare(drop(a.document, "DenyOutsideNetworks"), a.document, a.kind, a.target, a.account)
    assert found and all(d.direction == EXTRA for d in found)
    d = next(d for d in found if "DenyOutsideNetworks" in d.sids)
    assert d.deployed.allowed and not d.compiled.allowed and d.compiled.effect == "ExplicitDeny"
    ctx = dict(d.probe.context)
    assert ctx.get("aws:sourcevpce") not in {"vpce-01a2b3c4d5e6f7a80", "vpce-0f9e8d7c6b5a43211"}
    assert "DenyOutsideNetworks" in d.message and str(d.probe) in d.message


def test_removing_an_allow_is_missing_access_and_adding_one_is_extra():
    a = by_path("iam/111122223333/trainer.json")
    allow = a.document.statements[0]
    found = compare(drop(a.document, allow.sid), a.document, a.kind, a.target, a.account)
    assert found and {d.direction for d in found} == {MISSING}
    assert allow.sid in found[0].sids and found[0].probe.principal == a.target
    wide = PolicyDocument(a.document.statements + (Statement("Allow", ("s3:GetObject",), ("*",), sid="Wide"),))
    found = compare(wide, a.document, a.kind, a.target, a.account)
    assert [d.direction for d in found] == [EXTRA] and found[0].probe.action == "s3:GetObject"


# --------------------------------------------------------------------------- #
# Role trust policies: who may obtain the role


@pytest.mark.parametrize("path", [a.path for a in trust_artifacts()])
def test_every_trust_policy_is_in_sync_with_itself_however_written(path):
    a = by_path(path)
    assert compare(a.document, a.document, a.kind, a.target, a.account) == []
    assert compare(_reformatted(a.document, random.Random(3)), a.document, a.kind, a.target, a.account) == []


def _trust_without_condition(a, key: str) -> PolicyDocument:
    obj = json.loads(a.text)
    for st in obj["Statement"]:
        kept = {op: {k: v for k, v in block.items() if k != key} for op, block in st.pop("Condition", {}).items()}
        if any(kept.values()):
            st["Condition"] = {op: block for op, block in kept.items() if block}
    return from_json(obj)


def test_identity_center_trust_without_its_principal_arn_lets_any_role_of_the_account_in():
    a = by_path("iam/111122223333/security_admin.trust.json")
    found = compare(_trust_without_condition(a, "aws:PrincipalArn"), a.document, a.kind, a.target, a.account)
    assert found and {d.direction for d in found} == {EXTRA}
    d = found[0]
    assert d.probe.action == "sts:AssumeRole" and d.probe.resource == a.target
    assert d.probe.principal.startswith("arn:aws:iam::111122223333:")  # the root, or any role of the account
    assert "aws-reserved/sso.amazonaws.com" not in d.probe.principal
    assert d.sids == ("IdentityCenterSecurityAdmin",)


def test_github_trust_of_another_subject_drifts_both_ways():
    a = by_path("iam/111122223333/deployer.trust.json")
    obj = json.loads(a.text)
    sub = "token.actions.githubusercontent.com:sub"
    obj["Statement"][0]["Condition"]["StringEquals"][sub] = "repo:acme/llm-platform:ref:refs/heads/dev"
    found = compare(from_json(obj), a.document, a.kind, a.target, a.account)
    assert [d.direction for d in found] == [EXTRA, MISSING]
    provider = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
    assert all(d.probe.principal == provider and d.probe.action == "sts:AssumeRoleWithWebIdentity" for d in found)
    assert dict(found[0].probe.context)[sub] == "repo:acme/llm-platform:ref:refs/heads/dev"
    assert dict(found[1].probe.context)[sub] == "repo:acme/llm-platform:environment:production"


def test_service_trust_without_its_source_conditions_is_extra_access():
    a = by_path("iam/111122223333/trainer.trust.json")
    found = compare(_trust_without_condition(a, "aws:SourceArn"), a.document, a.kind, a.target, a.account)
    assert found and {d.direction for d in found} == {EXTRA}
    assert found[0].probe.principal == "sagemaker.amazonaws.com"
    assert dict(found[0].probe.context).get("aws:sourcearn") != "arn:aws:sagemaker:eu-central-1:111122223333:x"


def _compiled_generated(spec):
    text = format_spec(spec)
    note(text)
    compiled = compile_text(text, "gen.slp")
    assume(compiled.ok)
    return compiled


@pytest.mark.property
@FEW
@given(spec=specs(max_grants=4), rnd=st.randoms(use_true_random=False))
def test_generated_deployments_perimeter_removed_always_drifts_and_shuffle_never(spec, rnd):
    compiled = _compiled_generated(spec)
    resources = [a for a in compiled.artifacts if a.kind in ("s3-bucket-policy", "ecr-repository-policy")]
    assume(resources)
    a = rnd.choice(resources)
    assert compare(_reformatted(a.document, rnd), a.document, a.kind, a.target, a.account) == []
    found = compare(drop(a.document, "DenyOutsideNetworks"), a.document, a.kind, a.target, a.account)
    assert any(d.direction == EXTRA and "DenyOutsideNetworks" in d.sids for d in found)


def test_outside_address_is_outside_every_cidr_of_both_documents():
    # 203.0.113.0/24 is in the spec: the counterexample must come from elsewhere.
    allow = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/a"}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::b/*"}
    deny = {"Sid": "DenyOutsideNetworks", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.18.0.0/15"]}}}
    found = compare(from_json({"Statement": [allow]}), from_json({"Statement": [allow, deny]}),
                    "s3-bucket-policy", "arn:aws:s3:::b", "111122223333")
    (d,) = found
    ip = dict(d.probe.context).get("aws:sourceip")  # absent also escapes a negated operator
    assert ip is None or not ip.startswith(("203.0.113.", "198.18.", "198.19.")), ip
    assert _outside_ip([from_json({"Statement": [deny]})]) == "100.64.0.1"


def test_command_arguments():
    import argparse

    from slpc.app.commands import validate as command

    p = argparse.ArgumentParser()
    command.add_arguments(p)
    a = p.parse_args(["a.slp", "b.slp", "--profile", "P", "--region", "eu-west-1", "--endpoint-url",
                      "http://127.0.0.1:5000", "--format", "sarif"])
    assert (a.files, a.profile, a.region, a.endpoint_url, a.format, a.checks) == (
        ["a.slp", "b.slp"], "P", "eu-west-1", "http://127.0.0.1:5000", "sarif", "drift,analyzer,lint")
    assert a.scan_roles is False and p.parse_args(["a.slp", "--scan-roles"]).scan_roles is True
    with pytest.raises(SystemExit):
        p.parse_args(["a.slp", "--format", "xml"])


# --------------------------------------------------------------------------- #
# Requests from the spec's edges (slpc.verify.edges): statements whose removal the
# two policy texts alone did not reveal.

from slpc.verify.edges import questions  # noqa: E402
from slpc.verify.live.compare import WEAKENED, model_probes  # noqa: E402


@lru_cache(maxsize=1)
def example_questions():
    sources, _ = read_sources([str(EXAMPLE)])
    return tuple(questions(compile_sources(sources).model))


@lru_cache(maxsize=1)
def example_all():
    sources, _ = read_sources([str(EXAMPLE)])
    return {a.path: a for a in compile_sources(sources).artifacts}


FORMERLY_MISSED = [
    ("s3/weights.json", "DenyEvaluatorOutsideGrant"), ("s3/weights.json", "DenyEvaluatorOutsideGrant2"),
    ("s3/weights.json", "DenyBreakglassOutsideGrant"), ("s3/finetune_data.json", "DenyTrainerOutsideGrant"),
    ("kms/model_key.json", "DenyCryptoToOthers"), ("ecr/serving.json", "DenyInferenceOutsideGrant"),
    ("ecr/serving.json", "DenyDeployerOutsideGrant"),
    ("iam/111122223333/trainer.json", "ReadFinetuneDataKey"),
    ("iam/111122223333/trainer.json", "WriteWeightsCheckpointsKey"),
    ("iam/111122223333/inference.json", "ReadWeightsReleasedKey"),
    ("iam/444455556666/evaluator.json", "ReadWeightsReleasedKey"),
    ("iam/111122223333/security_admin.json", "AdministerModelKey"),
    ("vpce/vpce-01a2b3c4d5e6f7a83.json", "AllowSecurityAdmin"),
    ("vpce/vpce-0f9e8d7c6b5a43211.json", "AllowBreakglass"), ("vpce/vpce-0f9e8d7c6b5a43211.json", "AllowSecurityAdmin"),
    ("org/scp-2.json", "DenyAuditTampering"), ("org/rcp-1.json", "DenyServicesForOthers"),
    ("org/rcp-1.json", "DenyPrincipalsOutsidePerimeter"), ("org/rcp-1.json", "DenyOutsideNetworksKeys"),
]


def _compare_without(path, *sids):
    a = example_all()[path]
    deployed = a.document
    for sid in sids:
        deployed = drop(deployed, sid)
    return a, compare(deployed, a.document, a.kind, a.target, a.account, extra=model_probes(example_questions(), a))


@pytest.mark.parametrize("path, sid", FORMERLY_MISSED)
def test_removed_statement_is_drift_with_a_counterexample(path, sid):
    a, found = _compare_without(path, sid)
    hits = [d for d in found if sid in d.sids]
    assert hits, found
    d = hits[0]
    removed_allow = next(s for s in a.document.statements if s.sid == sid).effect == "Allow"
    assert d.direction in ((MISSING,) if removed_allow else (EXTRA, WEAKENED))
    if not removed_allow:  # the request: the spec denies it by the removed statement, the deployed policy not
        assert not d.compiled.allowed and sid in [s.sid for s in d.compiled.statements]
        assert d.deployed.allowed or d.direction == WEAKENED
    assert d.probe.action and d.probe.resource and str(d.probe) in d.message


def test_a_deny_an_allow_still_covers_is_a_weakened_deny():
    # The evaluator's Allow carries the endpoint condition itself: without the Deny
    # nothing more is allowed today, but the defence in depth is gone.
    a, found = _compare_without("s3/weights.json", "DenyEvaluatorOutsideGrant")
    (d,) = [d for d in found if "DenyEvaluatorOutsideGrant" in d.sids]
    assert d.direction == WEAKENED and "defence in depth" in d.message
    assert dict(d.probe.context).get("aws:sourcevpce") != "vpce-0f9e8d7c6b5a43211"
    assert d.probe.principal == "arn:aws:iam::444455556666:role/model-evaluator"


ENCRYPTION_DENIES = ("DenyNonKmsEncryption", "DenyOtherKmsKeys", "DenyKmsWithoutKeyId", "DenyCustomerProvidedKeys")


@pytest.mark.parametrize("sid", ENCRYPTION_DENIES)
def test_encryption_denies_drift_where_someone_writes(sid):
    a, found = _compare_without("s3/weights.json", sid)
    d = next(d for d in found if sid in d.sids)
    assert d.direction == EXTRA and d.probe.action == "s3:PutObject"
    assert d.probe.principal == "arn:aws:iam::111122223333:role/llm-trainer"


@pytest.mark.parametrize("sid", ENCRYPTION_DENIES)
def test_encryption_denies_where_nobody_writes_are_covered_by_the_ungranted_actions_deny(sid):
    # Nobody may write finetune_data: DenyUngrantedObjectActions denies s3:PutObject to
    # everyone, so the encryption Deny alone decides nothing (in sync by meaning) ...
    assert _compare_without("s3/finetune_data.json", sid)[1] == []
    # ... and is reported as soon as it is the one standing between a writer and the bucket.
    _, found = _compare_without("s3/finetune_data.json", sid, "DenyUngrantedObjectActions")
    assert any(sid in d.sids and d.probe.action == "s3:PutObject" for d in found), found


def test_edge_questions_are_deterministic_and_cover_every_grant():
    qs = example_questions()
    sources, _ = read_sources([str(EXAMPLE)])
    model = compile_sources(sources).model
    assert list(qs) == questions(model)
    principals = {q.principal for q in qs}
    assert {p.arn for p in model.principals.values()} <= principals and None in principals
    assert any(q.context.get("aws:SourceVpce") == "vpce-0ffffffffffffffff" for q in qs)
    assert any(q.context.get("aws:CurrentTime") == "2027-06-29T23:59:59Z" for q in qs)


def _covered_by_another_deny(st, doc) -> bool:
    """Syntactically redundant: another Deny of everyone with at least its actions and
    resources and only some of its conditions denies everything `st` denies."""
    import fnmatch

    conds = {(c.operator, c.key.lower(), tuple(sorted(c.values))) for c in st.conditions}
    for other in doc.statements:
        if other is st or other.effect != "Deny" or other.not_actions or other.not_resources:
            continue
        if not (other.principal is not None and other.principal.wildcard):
            continue
        if not all(any(fnmatch.fnmatchcase(a.lower(), o.lower()) for o in other.actions) for a in st.actions):
            continue
        if not all(any(fnmatch.fnmatchcase(r, o) for o in other.resources) for r in st.resources):
            continue
        if {(c.operator, c.key.lower(), tuple(sorted(c.values))) for c in other.conditions} <= conds:
            return True
    return False


@pytest.mark.property
@settings(max_examples=min(EXAMPLES, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(max_grants=3), rnd=st.randoms(use_true_random=False))
def test_generated_deployments_with_edge_requests_never_drift_when_reordered(spec, rnd):
    # The spec's edge requests are only requests: a policy is in sync with itself
    # reordered, and each removed grant-specific Deny is found, for any spec.
    compiled = _compiled_generated(spec)
    arts = [a for a in compiled.artifacts if a.document is not None]
    narrowed = [a for a in arts if any((s.sid or "").endswith("OutsideGrant") for s in a.document.statements)]
    a = rnd.choice(narrowed or arts)
    extra = model_probes(questions(compiled.model), a)
    assert compare(_reformatted(a.document, rnd), a.document, a.kind, a.target, a.account, extra=extra) == []
    outside = [s.sid for s in a.document.statements if s.sid and s.sid.endswith("OutsideGrant")
               and not _covered_by_another_deny(s, a.document)]
    if outside:
        sid = rnd.choice(outside)
        found = compare(drop(a.document, sid), a.document, a.kind, a.target, a.account, extra=extra)
        assert any(sid in d.sids for d in found), sid
    event("removed a grant-specific Deny" if outside else "no grant-specific Deny no other Deny covers")


def test_a_removed_deny_reported_as_extra_access_is_not_also_a_weakened_deny():
    for path in ("s3/weights.json", "ecr/serving.json"):
        _, found = _compare_without(path, "DenyOutsideNetworks")
        assert any(d.direction == EXTRA and "DenyOutsideNetworks" in d.sids for d in found)
        assert not any(d.direction == WEAKENED and set(d.sids) <= {"DenyOutsideNetworks"} for d in found), found
