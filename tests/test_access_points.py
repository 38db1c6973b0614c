"""Buckets reached through S3 access points (`access_points`): when the compiler
chooses them, how they are named, what each layer says, and the bad inputs.

What the policies mean together is checked by the differential properties
(tests/test_differential.py, `..._through_access_points_...`)."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.cli import main
from slpc.app.pipeline import compile_text
from slpc.compiler.model import access_point_name
from slpc.policy.limits import RULES
from slpc.policy.document import PolicyDocument, Statement
from slpc.targets import layout
from slpc.targets.bucket import PATTERN_TRUST
from slpc.verify.deployment import Deployment
from conftest import ROOT

SHARED = (ROOT / "examples" / "shared_bucket.slp").read_text()
AP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")
NOW = {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-12-04T00:00:00Z",
       "aws:SourceVpce": "vpce-01a2b3c4d5e6f7a80"}
TEAM_A = "arn:aws:iam::111122223333:role/team-a-train"
AP = "arn:aws:s3:eu-central-1:111122223333:accesspoint/"


def _crowded(n: int, mode: str | None) -> str:
    """The shared bucket with `n` more grantees, each under a prefix of its own."""
    text = SHARED.replace("  access_points always\n", f"  access_points {mode}\n" if mode else "")
    roles = "".join(f'role t{i} "arn:aws:iam::111122223333:role/platform-team-{i:03d}-training"\n' for i in range(n))
    grants = "".join(f'allow t{i} write weights "team-{i:03d}/checkpoints/" from shared_vpc\n' for i in range(n))
    return text + "\n" + roles + grants


def test_auto_keeps_a_bucket_direct_while_its_exact_policy_fits():
    c = compile_text(_crowded(0, None))
    assert c.ok and c.model.assets["weights"].access_points == "never"
    assert not [a for a in c.artifacts if a.kind == "s3-access-point-policy"]
    assert "W353" not in {d.code for d in c.diagnostics}


def test_auto_moves_a_crowded_bucket_behind_access_points_and_says_so(tmp_path, capsys):
    spec = tmp_path / "crowded.slp"
    spec.write_text(_crowded(40, None))
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning[W353]: bucket `weights` is reached through access points" in err
    assert re.search(r"its exact policy is [\d,]+ bytes, over S3's limit of 20,480", err)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    bucket = next(a for a in manifest["artifacts"] if a["kind"] == "s3-bucket-policy")
    assert bucket["coarser"] == layout.REACHED
    aps = [a for a in manifest["artifacts"] if a["kind"] == "s3-access-point-policy"]
    assert len(aps) == 45 and {a["within"] for a in aps} == {"arn:aws:s3:::ml-platform-weights"}
    sizes = [(tmp_path / "out" / a["path"]).stat().st_size for a in aps + [bucket]]
    assert max(sizes) <= RULES["s3-bucket-policy"].limit


def test_never_keeps_the_exact_policy_and_fails_when_it_does_not_fit():
    c = compile_text(_crowded(40, "never"))
    assert [d.code for d in c.diagnostics if d.is_error] == ["E501"]


def test_the_choice_is_made_at_the_limit_itself(monkeypatch):
    """Direct while the exact bucket policy is at most the limit; through access points one byte over."""
    exact = next(a for a in compile_text(_crowded(3, "never")).artifacts if a.kind == "s3-bucket-policy").size
    for limit, mode in ((exact, "never"), (exact - 1, "always")):
        monkeypatch.setitem(RULES, "s3-bucket-policy", RULES["s3-bucket-policy"].__class__(
            limit, "bytes", "as-written", "S3 bucket policy"))
        assert compile_text(_crowded(3, None)).model.assets["weights"].access_points == mode


def test_identity_policies_name_the_grantees_own_access_point_only():
    c = compile_text(SHARED)
    policy = next(a for a in c.artifacts if a.kind == "iam-identity-policy" and a.name == "team_a_train")
    s3 = [r for s in policy.document.statements for r in s.resources if ":s3:" in r]
    assert s3 and all(r.startswith(AP + "weights-team-a-train") for r in s3)


def test_a_grantee_reads_through_its_access_point_and_nowhere_else():
    c = compile_text(SHARED)
    world = Deployment.from_artifacts(c.artifacts)
    mine = f"{AP}weights-team-a-train/object/team-a/model.bin"
    assert world.decide(TEAM_A, "s3:GetObject", mine, NOW).allowed
    assert not world.decide(TEAM_A, "s3:GetObject", "arn:aws:s3:::ml-platform-weights/team-a/model.bin", NOW).allowed
    assert not world.decide(TEAM_A, "s3:GetObject", f"{AP}weights-team-b-train/object/team-a/model.bin", NOW).allowed
    assert not world.decide(TEAM_A, "s3:GetObject", f"{AP}weights-team-a-train/object/team-b/model.bin", NOW).allowed
    # the endpoint policy must allow the access point and the bucket: without the first, no read
    vpce = next(a for a in c.artifacts if a.kind == "vpc-endpoint-policy" and a.target == NOW["aws:SourceVpce"])
    assert f"{AP}weights-team-a-train/object/*" in vpce.text


def test_a_bucket_with_more_access_points_than_it_can_name_trusts_them_by_pattern():
    """130 grantees' access point ARNs do not fit the bucket policy twice over: it names
    them by the SCP-guarded pattern instead, says so (W355, `coarser`), and keeps every
    grantee to its own access point, prefix and network."""
    c = compile_text(_crowded(130, "always"))
    assert c.ok, [d.message for d in c.diagnostics if d.is_error]
    assert "W355" in {d.code for d in c.diagnostics}
    bucket = next(a for a in c.artifacts if a.kind == "s3-bucket-policy")
    assert bucket.size <= RULES["s3-bucket-policy"].limit
    assert bucket.coarser == f"{layout.REACHED}; {PATTERN_TRUST}"
    deny = next(s for s in bucket.document.statements if s.sid == "DenyDataOutsideAccessPoints")
    assert [(k.operator, k.values) for k in deny.conditions] == [("StringNotLike", (f"{AP}weights-*",))]
    world = Deployment.from_artifacts(c.artifacts)
    team = "arn:aws:iam::111122223333:role/platform-team-007-training"
    mine, other = f"{AP}weights-t7/object/team-007/checkpoints/x", f"{AP}weights-t8/object/team-007/checkpoints/x"
    assert world.decide(team, "s3:PutObject", mine, NOW).allowed
    assert not world.decide(team, "s3:PutObject", other, NOW).allowed
    assert not world.decide(team, "s3:PutObject", f"{AP}weights-t7/object/team-008/checkpoints/x", NOW).allowed
    assert not world.decide(team, "s3:PutObject", "arn:aws:s3:::ml-platform-weights/team-007/checkpoints/x",
                            NOW).allowed
    # an access point someone made outside the pattern meets the bucket's Deny, even for `*:*` in IAM
    world.attach_access_point(f"{AP}rogue", "arn:aws:s3:::ml-platform-weights")
    everything = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
    assert not world.decide(team, "s3:PutObject", f"{AP}rogue/object/team-007/checkpoints/x", NOW,
                            extra_identity=[everything]).allowed
    # the SCP keeps anyone but the admins from making one inside it
    guard = next(s for a in c.artifacts if a.kind == "scp" for s in a.document.statements
                 if s.sid == "DenyAccessPointChanges")
    assert "s3:CreateAccessPoint" in guard.actions and guard.resources == (f"{AP}weights-*",)


def test_access_point_changes_are_guarded_by_the_scp_or_named_as_a_gap():
    c = compile_text(SHARED)
    scp = [s for a in c.artifacts if a.kind == "scp" for s in a.document.statements]
    guard = next(s for s in scp if s.sid == "DenyAccessPointChanges")
    assert guard.resources == (f"{AP}weights-*",)
    assert "s3:PutAccessPointPolicy" in guard.actions
    off = compile_text(SHARED.replace('  regions ["eu-central-1"]', '  regions ["eu-central-1"]\n  guardrails [rcp]'))
    assert "W354" in {d.code for d in off.diagnostics}


def test_an_unknown_mode_is_an_error_with_a_suggestion(tmp_path, capsys):
    spec = tmp_path / "bad.slp"
    spec.write_text(SHARED.replace("access_points always", "access_points alwayz"))
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "error[E326]: unknown access_points mode `alwayz`" in err
    assert f"{spec}:" in err and "^" in err and "did you mean `always`" in err


def test_more_access_points_than_the_quota_is_an_error(monkeypatch):
    monkeypatch.setattr(layout, "ACCESS_POINTS_PER_REGION", 4)
    c = compile_text(SHARED)  # five access points in eu-central-1
    err = next(d for d in c.diagnostics if d.code == "E503")
    assert "5 access points in account 111122223333, eu-central-1" in err.message and not c.ok


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,63}", fullmatch=True),
                          st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,63}", fullmatch=True)), min_size=1, max_size=30))
def test_access_point_names_are_valid_unique_and_stable(pairs):
    """Any declared names give S3-valid names (3-50 of [a-z0-9-], no leading or trailing
    hyphen, not `-s3alias`), distinct for distinct pairs, and the same on every build."""
    pairs = list(dict.fromkeys(pairs))
    def names():
        taken: set[str] = set()
        out = []
        for bucket, who in pairs:
            out.append(access_point_name(bucket, who, taken))
            taken.add(out[-1])
        return out
    first = names()
    assert all(AP_NAME.match(n) and not n.endswith("-s3alias") for n in first), first
    assert len(set(first)) == len(first)
    assert names() == first


@pytest.mark.parametrize("target", ["terraform", "cloudformation"])
def test_iac_creates_each_access_point_private_with_its_policy(tmp_path, target):
    spec = tmp_path / "shared.slp"
    spec.write_text(SHARED)
    assert main(["compile", str(spec), "-o", str(tmp_path / "out"), "--target", target]) == 0
    text = "".join(p.read_text() for p in (tmp_path / "out" / target).iterdir())
    if target == "terraform":
        blocks = [b for b in text.split('resource "')[1:] if b.startswith('aws_s3_access_point"')]
        private = "restrict_public_buckets = true"
    else:
        blocks = [b for b in re.split(r"\n  (?=\w+:\n    Type: )", text) if "Type: AWS::S3::AccessPoint\n" in b]
        private = "RestrictPublicBuckets: true"
    assert len(blocks) == 5
    assert all(private in b and "DenyOtherPrincipals" in b and "ml-platform-weights" in b for b in blocks)


def _without(artifacts, sid: str):
    """The artifacts with every statement `sid` removed (a policy someone weakened)."""
    from dataclasses import replace
    from slpc.policy.document import PolicyDocument
    return [replace(a, document=PolicyDocument(tuple(s for s in a.document.statements if s.sid != sid),
                                               a.document.version)) if a.document is not None else a
            for a in artifacts]


@pytest.mark.parametrize("dropped, refuted", [
    (None, set()),
    ("DenyOtherPrincipals", {1, 6}),  # another role with *:* through a grantee's access point
    ("DenyDataOutsideAccessPoints", {1, 6}),  # straight to the bucket, or through an undeclared access point
    ("DenyOtherActions", {6}),
    ("DenyTeamATrainOutsideGrant", {2, 6}),  # the grantee from outside its network
    ("DelegateObjectsToAccessPoints", {5, 6}),  # the grants stop working
])
def test_prove_covers_requests_through_access_points(dropped, refuted):
    from slpc.verify.prove.properties import prove
    from slpc.verify.prove.world import World
    c = compile_text(SHARED, "shared.slp")
    artifacts = c.artifacts if dropped is None else _without(c.artifacts, dropped)
    verdicts = {r.prop.number: r.verdict for r in prove(World.from_artifacts(c.model, artifacts))}
    assert {n for n, v in verdicts.items() if v == "refuted"} >= refuted
    assert all(v == "proved" for n, v in verdicts.items() if n not in refuted | {2})  # 2 may follow from 1
    if dropped is None:
        assert set(verdicts.values()) == {"proved"}


def test_the_report_matrix_is_confirmed_through_the_access_points():
    from slpc.report.evidence import access_matrix
    for emit in (True, False):  # resolved by the build, or by the meaning itself
        model = compile_text(SHARED, "shared.slp", emit=emit).model
        matrix = access_matrix(model, "2026-12-04T00:00:00Z")
        assert matrix and all(c["meaning_confirms"] for c in matrix)
