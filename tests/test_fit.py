"""Fitting policies to AWS's limits: managed policies for heavy roles, errors that name grants.

A role whose identity statements exceed the 10,240 characters IAM allows inline
gets managed policies (each within 6,144, at most `managed_policies_per_role`);
the managed policies must mean exactly what the spec says (AWS unions them), and
flow through the manifest, Terraform and CloudFormation.
"""

from __future__ import annotations

import json
import re

import hcl2
import pytest
import yaml
from cfnlint.api import ManualArgs, lint
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.cli import main
from slpc.app.pipeline import compile_text
from slpc.targets.cloudformation import cloudformation_templates
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from slpc.targets.fit import MANAGED, pack
from slpc.policy.limits import RULES, measure
from slpc.targets.terraform import terraform_module
from slpc.verify.deployment import Deployment
from slpc.verify.evaluate import Evaluator
from slpc.verify.request import Request
from slpc.verify.meaning import Meaning
from strategies import PROPERTY
from test_differential import STAR, questions
from test_terraform import jsonencode_arg, literal, resources

HEAD = '''deployment "heavy" {
  account "111122223333"
  regions ["eu-central-1"]
QUOTA}

network vpc {
  vpc "vpc-0a1b2c3d4e5f67890"
  endpoint s3 "vpce-01a2b3c4d5e6f7a80"
}

role admin "arn:aws:iam::111122223333:role/admin"
role reader "arn:aws:iam::111122223333:role/reader"
'''


def heavy_spec(buckets: int, quota: int | None = None) -> str:
    """One role reading many buckets, each grant with its own expiry (so nothing merges)."""
    text = HEAD.replace("QUOTA", f"  managed_policies_per_role {quota}\n" if quota else "")
    for k in range(-(-buckets // 20)):  # a key policy holds about 20 such grants
        text += (f'\nkey k{k} {{\n  arn "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-'
                 f'{k:012d}"\n  admins [admin]\n}}\n')
    for i in range(buckets):
        text += f'\nbucket b{i} {{\n  name "heavy-bucket-{i}"\n  encrypt k{i // 20}\n  admins [admin]\n}}\n'
    for i in range(buckets):
        text += f'allow reader read b{i} "data/" from vpc until "2031-01-{1 + i % 28:02d}T{i // 28:02d}:00:00Z"\n'
    return text


@pytest.fixture(scope="module")
def heavy():
    c = compile_text(heavy_spec(40), "heavy.slp")
    assert c.ok, [d.message for d in c.diagnostics if d.is_error]
    return c


@pytest.fixture(scope="module")
def heavy_world(heavy):
    return Deployment.from_artifacts(heavy.artifacts), Meaning(heavy.model)


def test_a_role_over_the_inline_limit_gets_managed_policies_within_theirs(heavy):
    arts = [a for a in heavy.artifacts if a.name == "reader" and a.kind.startswith("iam-")]
    assert {a.kind for a in arts} == {"iam-managed-policy"}  # no inline policy left beside them
    assert 2 <= len(arts) <= 10
    assert all(measure("iam-managed-policy", a.document) <= RULES["iam-managed-policy"].limit for a in arts)
    assert sorted(a.path for a in arts) == sorted(f"iam/111122223333/reader/managed-{n}.json"
                                                  for n in range(1, len(arts) + 1))
    sids = [s.sid for a in arts for s in a.document.statements]
    assert len(sids) == len(set(sids))
    whole = sum(measure("iam-identity-policy", a.document) for a in arts)
    assert whole > RULES["iam-identity-policy"].limit  # it really did not fit inline
    listed = {e["path"] for e in heavy.manifest()["artifacts"] if e["kind"] == "iam-managed-policy"}
    assert listed == {a.path for a in arts}


@PROPERTY
@given(st.data())
def test_managed_policies_mean_exactly_the_spec(heavy, heavy_world, data):
    world, meaning = heavy_world
    for i in range(10):
        q = data.draw(questions(heavy.model), label=f"request {i}")
        decision = world.decide(q.principal, q.action, q.resource, q.context,
                                extra_identity=(STAR,) if q.star else ())
        assert decision.allowed == meaning.permits(q), (q, decision.explain())


def test_every_grant_of_the_split_role_still_works(heavy):
    world = Deployment.from_artifacts(heavy.artifacts)
    for i in range(40):
        d = world.decide("arn:aws:iam::111122223333:role/reader", "s3:GetObject",
                         f"arn:aws:s3:::heavy-bucket-{i}/data/x",
                         {"aws:SourceVpce": "vpce-01a2b3c4d5e6f7a80", "aws:CurrentTime": "2030-01-01T00:00:00Z",
                          "aws:SecureTransport": "true", "s3:TlsVersion": "1.3"})
        assert d.allowed, d.explain()


def test_terraform_creates_and_attaches_each_managed_policy(heavy):
    files = terraform_module(heavy.model, heavy.artifacts)
    parsed = {p: hcl2.loads(t) for p, t in files.items() if p.endswith(".tf")}
    res = resources(parsed)
    by_path = {a.path: a for a in heavy.artifacts if a.kind == "iam-managed-policy"}
    policies = {n: b for (t, n), b in res.items() if t == "aws_iam_policy"}
    attachments = {n: b for (t, n), b in res.items() if t == "aws_iam_role_policy_attachment"}
    assert len(policies) == len(by_path) and set(attachments) == set(policies)
    docs = sorted(json.dumps(jsonencode_arg(b["policy"]), sort_keys=True) for b in policies.values())
    assert docs == sorted(json.dumps(json.loads(a.text), sort_keys=True) for a in by_path.values())
    for name, body in attachments.items():
        assert literal(body["role"]) == "reader"
        assert body["policy_arn"] == f"${{aws_iam_policy.{name}.arn}}"
    names = [literal(b["name"]) for b in policies.values()]
    assert len(set(names)) == len(names) and all(len(n) <= 128 for n in names)
    assert not [n for (t, n) in res if t == "aws_iam_role_policy" and n == "reader"]


def test_cloudformation_creates_managed_policies_on_the_role(heavy):
    templates = cloudformation_templates(heavy.model, heavy.artifacts)
    text = templates["cloudformation/111122223333.yaml"]
    doc = yaml.safe_load(text)
    managed = {k: r for k, r in doc["Resources"].items() if r["Type"] == "AWS::IAM::ManagedPolicy"}
    assert len(managed) == len([a for a in heavy.artifacts if a.kind == "iam-managed-policy"])
    assert all(r["Properties"]["Roles"] == ["reader"] for r in managed.values())
    errors = [m for m in lint(text, config=ManualArgs(regions=["eu-central-1"])) if m.rule.id.startswith("E")]
    assert not errors, [m.message for m in errors]


def test_too_few_managed_policies_is_an_error_naming_grants(tmp_path, capsys):
    spec = tmp_path / "heavy.slp"
    spec.write_text(heavy_spec(40, quota=6))
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error[E502]: the identity policies of `reader` are " in err
    assert "more than 6 managed policies of 6,144 characters" in err
    notes = [line for line in err.splitlines() if "= note: " in line]
    assert len(notes) == 3 and all(re.search(rf"{re.escape(str(spec))}:\d+:1: `allow reader read b\d+", n)
                                   for n in notes)
    assert re.search(r"help: its 40 grants, in source order, fit \d+ roles \(.*\): give each run a role of its "
                     r"own \(or raise managed_policies_per_role", err)
    assert "Traceback" not in err and not (tmp_path / "out").exists()


SHARED = '''deployment "shared" {
  account "111122223333"
  regions ["eu-central-1"]
}

network vpc {
  vpc "vpc-0a1b2c3d4e5f67890"
  endpoint s3 "vpce-01a2b3c4d5e6f7a80"
}

role admin "arn:aws:iam::111122223333:role/admin"

key data_key {
  arn "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [admin]
}
'''
SHARED_BUCKET = '''
bucket shared{n} {{
  name "shared-datasets{n}"
  encrypt data_key
  admins [admin]
}}
'''

KEY = '''
key key{r} {{
  arn "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-44445555{r:04d}"
  admins [admin]
}}
'''


def shared_spec(teams: int) -> str:
    """One bucket shared by many teams, each under its own prefix."""
    return SHARED + SHARED_BUCKET.format(n="") + "".join(
        f'role team{i:03d} "arn:aws:iam::111122223333:role/ml-platform/team-{i:03d}-training"\n'
        for i in range(teams)) + "".join(
        f'allow team{i:03d} read shared "team-{i:03d}/curated/" from vpc\n' for i in range(teams))


def _apply_runs(text: str, hint: str, grant_start: str, move) -> tuple[str, int]:
    """The spec with the oversize hint's runs applied: the grants of run r (r >= 2,
    `n from FILE:LINE`, counted over the lines starting with `grant_start`) rewritten by
    `move(line, r)`. Returns the text and how many grants the runs cover."""
    runs = [(int(n), int(line)) for n, line in re.findall(r"(\d+) from [^,()]*?:(\d+)", hint)]
    lines = text.splitlines()
    grants = [i for i, line in enumerate(lines, 1) if line.startswith(grant_start)]
    for r, (n, first) in enumerate(runs[1:], 2):
        at = grants.index(first)
        for i in grants[at:at + n]:
            lines[i - 1] = move(lines[i - 1], r)
    return "\n".join(lines) + "\n", sum(n for n, _ in runs)


def test_the_split_an_oversize_role_error_suggests_compiles():
    text = heavy_spec(40, quota=6)
    c = compile_text(text, "heavy.slp")
    [d] = [d for d in c.diagnostics if d.code == "E502"]
    split, covered = _apply_runs(text, d.hint, "allow reader ", lambda line, r: line.replace(
        "allow reader ", f"allow reader{r} ", 1))
    runs = len(re.findall(r" from heavy\.slp:", d.hint))
    assert covered == 40 and runs >= 2
    split += "".join(f'role reader{r} "arn:aws:iam::111122223333:role/reader-{r}"\n' for r in range(2, runs + 1))
    after = compile_text(split, "heavy.slp")
    assert after.ok, [x.message for x in after.diagnostics if x.is_error]
    assert len({a.name for a in after.artifacts if a.name.startswith("reader")}) == runs


def test_the_split_an_oversize_bucket_error_suggests_compiles():
    """With `access_points never` the exact bucket policy is kept: its E501 says how to split."""
    text = shared_spec(36).replace('"shared-datasets"\n', '"shared-datasets"\n  access_points never\n', 1)
    c = compile_text(text, "shared.slp")
    [d] = [d for d in c.diagnostics if d.is_error]
    assert d.code == "E501" and "the S3 bucket policy for `shared`" in d.message
    assert d.hint.endswith("or remove `access_points never` to reach it through access points, one per grantee")
    assert all("` takes " in n and " bytes on its own" in n for n in d.notes)
    split, covered = _apply_runs(text, d.hint, "allow team", lambda line, r: line.replace(
        " read shared ", f" read shared{r} ", 1))
    runs = len(re.findall(r" from shared\.slp:", d.hint))
    assert covered == 36 and runs >= 2
    split += "".join(SHARED_BUCKET.format(n=r) for r in range(2, runs + 1))
    after = compile_text(split, "shared.slp")
    assert after.ok, [x.message for x in after.diagnostics if x.is_error]


def test_the_split_an_oversize_access_point_error_suggests_compiles():
    """One grantee with more prefixes on a shared bucket than its one access point's 20 KB
    holds: E501 names its access point and the heaviest grants, and fails fast; moving
    the hint's runs to roles of their own (each with its own access point) compiles."""
    text = shared_spec(3).replace('"shared-datasets"\n', '"shared-datasets"\n  access_points always\n', 1) + "".join(
        f'allow team000 write shared "team-000/run-{i:04d}/checkpoints/" from vpc\n' for i in range(230))
    c = compile_text(text, "shared.slp")
    [d] = [d for d in c.diagnostics if d.is_error]
    assert d.code == "E501" and "the S3 access point policy for `shared-team000`" in d.message, d.message
    assert all("` takes " in n and " bytes on its own" in n for n in d.notes) and d.span is not None
    assert "access points (" in d.hint and d.hint.endswith("(each role gets its own access point)")
    split, covered = _apply_runs(text, d.hint, "allow team000 ", lambda line, r: line.replace(
        "allow team000 ", f"allow team000r{r} ", 1))
    runs = len(re.findall(r" from shared\.slp:", d.hint))
    assert covered == 231 and runs >= 2
    split += "".join(f'role team000r{r} "arn:aws:iam::111122223333:role/ml-platform/team-000-run-{r}"\n'
                     for r in range(2, runs + 1))
    after = compile_text(split, "shared.slp")
    assert after.ok, [x.message for x in after.diagnostics if x.is_error]
    assert {a.name for a in after.artifacts if a.kind == "s3-access-point-policy"} >= {
        f"shared-team000r{r}" for r in range(2, runs + 1)}


def test_a_key_whose_grantees_do_not_fit_names_their_accounts():
    c = compile_text(shared_spec(60), "shared.slp")
    assert not [d for d in c.diagnostics if d.code == "E501" and "KMS key policy" in d.message]
    assert [d.message for d in c.diagnostics if d.code == "W352"] == [
        "the key policy for `data_key` names accounts, not principals"]


def _many_buckets_spec(buckets: int) -> str:
    """One key for many buckets, each with a reader of its own."""
    return SHARED + "".join(SHARED_BUCKET.format(n=i) for i in range(buckets)) + "".join(
        f'role r{i} "arn:aws:iam::111122223333:role/r{i}"\n' for i in range(buckets)) + "".join(
        f"allow r{i} read shared{i} from vpc\n" for i in range(buckets))


def test_a_key_over_the_limit_naming_accounts_says_which_buckets_to_move_and_that_compiles():
    text = _many_buckets_spec(400)
    [d] = [d for d in compile_text(text, "keys.slp").diagnostics if d.code == "E501" and "KMS key" in d.message]
    runs = re.fullmatch(r"its 400 buckets, in source order, fit (\d+) key policies \((.*)\): encrypt each run's "
                        r"buckets with a key of its own", d.hint)
    assert runs, d.hint
    groups = [run.split(", ") for run in runs[2].split("; ")]
    assert len(groups) == int(runs[1]) >= 2 and sum(groups, []) == [f"shared{i}" for i in range(400)]
    for r, group in enumerate(groups[1:], 2):
        text += KEY.format(r=r)
        for bucket in group:
            text = text.replace(f"bucket {bucket} {{\n  name \"shared-datasets{bucket[6:]}\"\n  encrypt data_key",
                                f"bucket {bucket} {{\n  name \"shared-datasets{bucket[6:]}\"\n  encrypt key{r}")
    after = compile_text(text, "keys.slp")
    assert not [x.message for x in after.diagnostics if x.is_error and "KMS key" in x.message]
    assert {a.name for a in after.artifacts if a.kind == "kms-key-policy"} == {"data_key"} | {
        f"key{r}" for r in range(2, len(groups) + 1)}


def test_raising_the_quota_makes_it_fit():
    assert not compile_text(heavy_spec(80, quota=5)).ok
    assert compile_text(heavy_spec(80, quota=20)).ok


def test_a_role_that_fits_inline_keeps_one_inline_policy():
    c = compile_text(heavy_spec(3))
    assert [a.kind for a in c.artifacts if a.name == "reader"] == ["iam-identity-policy"]


def _statement_lists():
    resource = st.integers(0, 10**6).map(lambda i: f"arn:aws:s3:::bucket-{i}/objects-under-a-long-prefix/*")
    statement = st.builds(
        lambda effect, actions, resources, sid: Statement(effect, actions=tuple(actions), resources=tuple(resources),
                                                          sid=sid),
        st.sampled_from(("Allow", "Deny")), st.lists(st.sampled_from(("s3:GetObject", "s3:PutObject")), min_size=1),
        st.lists(resource, min_size=1, max_size=120, unique=True), st.sampled_from(("A", "B", "Read")))
    return st.lists(statement, max_size=12)


@PROPERTY
@given(_statement_lists(), st.sampled_from(("iam-managed-policy", "scp", "s3-bucket-policy")))
def test_packing_fits_every_policy_and_keeps_every_statement(statements, kind):
    docs, too_big = pack(kind, statements)
    assert not too_big
    assert all(measure(kind, d) <= RULES[kind].limit for d in docs)
    placed = [s for d in docs for s in d.statements]
    assert len({s.sid for s in placed}) == len(placed)
    covered = {(s.effect, s.actions, r) for s in placed for r in s.resources}
    assert covered == {(s.effect, s.actions, r) for s in statements for r in s.resources}


CONTEXT = "kms:EncryptionContext:aws:s3:arn"


def _key_statement(n: int, operator: str = "StringLike") -> Statement:
    values = tuple(f"arn:aws:s3:::platform-weights-{i:03d}/release-pipeline/*" for i in range(n))
    return Statement("Allow", actions=("kms:Decrypt",), resources=("arn:aws:kms:eu-central-1:111122223333:key/k",),
                     conditions=(Condition("StringEquals", "kms:ViaService", ("s3.eu-central-1.amazonaws.com",)),
                                 Condition(operator, CONTEXT, values)), sid="ReadKey")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 399), st.integers(120, 400))
def test_a_statement_too_large_for_one_policy_is_split_by_its_ored_values(which, n):
    """A key statement whose encryption-context list alone is over 6,144 characters (a role that
    reads 120+ buckets under one key) splits into pieces by those values: every piece fits, and
    a request is allowed by some piece exactly when the whole statement allows it."""
    whole = _key_statement(n)
    docs, too_big = pack(MANAGED, [whole])
    assert not too_big and len(docs) > 1
    assert all(measure(MANAGED, d) <= RULES[MANAGED].limit for d in docs)
    assert len({s.sid for d in docs for s in d.statements}) == sum(len(d.statements) for d in docs)
    context = {"kms:ViaService": "s3.eu-central-1.amazonaws.com",
               CONTEXT: f"arn:aws:s3:::platform-weights-{which:03d}/release-pipeline/model.bin"}
    request = Request("arn:aws:iam::111122223333:role/rp", "kms:Decrypt", whole.resources[0], context=context)
    key_policy = PolicyDocument((Statement("Allow", actions=("kms:*",), resources=("*",),
                                           principal=Principal.aws("arn:aws:iam::111122223333:root")),))
    alone = Evaluator(identity=[PolicyDocument((whole,))], resource=key_policy).evaluate(request).allowed
    assert alone == (which < n)
    assert Evaluator(identity=docs, resource=key_policy).evaluate(request).allowed == alone


def test_a_negated_condition_is_never_split():
    docs, too_big = pack(MANAGED, [_key_statement(200, "StringNotLike")])
    assert not docs and [s.sid for s in too_big] == ["ReadKey"]
