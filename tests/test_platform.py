"""The central-ML-platform shape (benchmarks/platform.py): shared VPCs, keys and buckets.

What already holds at that shape, and the forms slpc takes there: S3 endpoint
policies that name the grantees' accounts when naming each grantee does not fit
(W351) and key policies that name their accounts (W352), stated in the diagnostics,
the manifest and the proof's universe, and proved exact together with the bucket
policies.
"""

import json
import re

import pytest

from benchmarks.platform import platform
from slpc.app.cli import main
from slpc.app.pipeline import compile_text
from slpc.report import build_report
from slpc.report.render import render
from slpc.policy.document import PolicyDocument, Statement
from slpc.policy.limits import RULES
from slpc.targets import endpoints, key
from slpc.targets.manifest import manifest
from slpc.verify.deployment import Deployment
from slpc.verify.evaluate import Evaluator
from slpc.verify.prove.properties import PROVED, prove
from slpc.verify.prove import results as R
from slpc.verify.prove.world import World
from slpc.verify.request import Request
from conftest import EXAMPLE, ROOT

SHARED = ROOT / "examples" / "shared_bucket.slp"

ADMIN = "arn:aws:iam::111122223333:role/Administrator"
TRAINER = "arn:aws:iam::111122223333:role/llm-trainer"
INFERENCE = "arn:aws:iam::111122223333:role/llm-inference"
PROD_S3 = "vpce-01a2b3c4d5e6f7a80"
PROD_ECR_DKR = "vpce-01a2b3c4d5e6f7a82"
KEY = "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
SERVING = "arn:aws:ecr:eu-central-1:111122223333:repository/llm-serving"


def test_the_generator_has_the_platform_shape():
    text = platform(120)
    allows = re.findall(r"^allow (\S+) (\S+) (\S+)(?: \"([^\"]*)\")?", text, re.M)
    assert 1_050 <= len(allows) <= 1_150
    assert len(re.findall(r"^role \S+ \"arn:aws:iam::111122223333:role/ml-platform/", text, re.M)) == 360
    teams_per_bucket = {}
    for _, _, asset, prefix in allows:
        if prefix and prefix.startswith("team-"):
            teams_per_bucket.setdefault(asset, set()).add(prefix.split("/")[0])
    assert {len(t) for b, t in teams_per_bucket.items() if b.startswith("weights_")} == {10}
    assert {len(t) for b, t in teams_per_bucket.items() if b.startswith("datasets_")} == {15}
    assert text.count("\nkey ") == 4 and len(re.findall(r"^network ", text, re.M)) == 4
    assert platform(120) == text  # deterministic


def _force_account_wide(mp: pytest.MonkeyPatch, patterns: bool = False, gaps: bool = False) -> None:
    """Every policy measures over its limit, so each endpoint and key policy takes the
    last form its ladder allows here: S3 and ECR endpoints name accounts (and with
    `patterns`, S3 buckets go by pattern; with `gaps`, ECR tokens and SageMaker invokes
    go by account too)."""
    E = endpoints
    ladder = {"s3": (E.EXACT, E.ACCOUNTS) + ((E.PATTERNS,) if patterns else ()),
              **{s: (E.EXACT, E.ACCOUNTS) + ((E.TOKENS,) if gaps else ()) for s in ("ecr.api", "ecr.dkr")},
              **({"sagemaker.runtime": (E.EXACT, E.ACCOUNTS)} if gaps else {})}
    mp.setattr(endpoints, "FORMS", ladder)
    for module in (endpoints, key):
        mp.setattr(module, "measure", lambda kind, doc: RULES[kind].limit + 1)


@pytest.fixture(scope="module")
def account_wide():
    """The example compiled with every S3 and ECR endpoint policy and every key policy in
    its account-wide form."""
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp)
        compiled = compile_text(EXAMPLE.read_text(), "sovereign_llm.slp")
    assert compiled.ok
    return compiled


def test_the_account_wide_form_is_stated(account_wide):
    warned = {d.message.split("`")[1] for d in account_wide.diagnostics if d.code == "W351"}
    wide = {a.name: a for a in account_wide.artifacts if a.coarser and a.kind == "vpc-endpoint-policy"}
    keys = {d.message.split("`")[1] for d in account_wide.diagnostics if d.code == "W352"}
    assert keys == {a.name for a in account_wide.artifacts if a.coarser and a.kind == "kms-key-policy"} == {
        "model_key"}
    assert warned == set(wide) == {a.name for a in account_wide.artifacts if a.kind == "vpc-endpoint-policy"
                                   and a.name.split(".", 1)[1] in ("s3", "ecr.api", "ecr.dkr")}
    s3 = [a for a in wide.values() if a.name.endswith(".s3")]
    assert len(s3) == 2 and all("the bucket policies decide who" in a.coarser for a in s3)
    assert all("the repository policies decide who" in a.coarser for a in wide.values() if ".ecr." in a.name)
    entries = {e["path"]: e for e in manifest(account_wide.artifacts, [])["artifacts"]}
    assert all(entries[a.path]["coarser"] == a.coarser for a in s3)
    assert {p for p, e in entries.items() if "coarser" in e} == {a.path for a in account_wide.artifacts if a.coarser}
    assert entries["kms/model_key.json"]["coarser"].startswith("lets any principal of accounts 111122223333, "
                                                               "444455556666 use the key through S3")
    doc = json.loads(next(a.text for a in s3 if a.target == PROD_S3))
    allow = next(s for s in doc["Statement"] if s["Sid"] == "AllowGrantsToTheGranteesAccounts")
    assert allow["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "111122223333"}}
    assert set(allow["Resource"]) == {"arn:aws:s3:::acme-llm-weights", "arn:aws:s3:::acme-llm-weights/*",
                                      "arn:aws:s3:::acme-llm-finetune", "arn:aws:s3:::acme-llm-finetune/*"}


def test_the_report_and_the_compile_summary_state_each_coarser_layer(account_wide, tmp_path, capsys):
    ev = build_report(account_wide.model, account_wide.artifacts, [("sovereign_llm.slp", EXAMPLE.read_bytes())],
                      generated_at="2026-01-01T00:00:00Z")
    coarser = sorted((a.path, a.kind) for a in account_wide.artifacts if a.coarser)
    s3 = [path for path, _ in coarser]
    assert [c["artifact"] for c in ev["coarser"]] == s3 and len(s3) >= 3
    files = render(ev)
    for path, kind in coarser:
        assert path in files["report.md"].split("### Layers coarser than the spec")[1].split("###")[0]
        assert f"<td><code>{path}</code></td><td><code>{kind}</code></td>" in files["report.html"]
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp)
        assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "out")]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("coarser than the spec: ")]
    assert [line.split()[4] for line in said] == s3


def test_the_account_wide_form_keeps_the_perimeter(account_wide):
    world = Deployment.from_artifacts(account_wide.artifacts)
    via = {"aws:SourceVpce": PROD_S3, "aws:SecureTransport": "true", "s3:TlsVersion": "1.3",
           "aws:CurrentTime": "2026-12-04T00:00:00Z"}
    star = (PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),)),)
    # the endpoint lets an account admin through, the bucket policy stops it
    assert not world.decide(ADMIN, "s3:GetObject", "arn:aws:s3:::acme-llm-weights/released/m",
                            via, extra_identity=star).allowed
    # a bucket outside the spec stays out of reach through the endpoint
    assert not world.decide(TRAINER, "s3:PutObject", "arn:aws:s3:::attacker-bucket/x", via,
                            extra_identity=star).allowed
    # the grant works
    assert world.decide(TRAINER, "s3:GetObject", "arn:aws:s3:::acme-llm-finetune/d/x", via).allowed
    ecr = {"aws:SourceVpce": PROD_ECR_DKR, "aws:SecureTransport": "true", "aws:CurrentTime": "2026-12-04T00:00:00Z"}
    # the ECR endpoint lets the account through, the repository policy stops who the spec does not name
    assert not world.decide(TRAINER, "ecr:BatchGetImage", SERVING, ecr, extra_identity=star).allowed
    assert world.decide(INFERENCE, "ecr:BatchGetImage", SERVING, ecr).allowed
    # the key: only through S3, only for the spec's buckets, by the grantees' accounts
    doc = json.loads(next(a.text for a in account_wide.artifacts if a.kind == "kms-key-policy"))
    allow = next(s for s in doc["Statement"] if s["Sid"] == "AllowS3ForTheGranteesAccounts")
    assert allow["Principal"] == "*" and allow["Condition"]["StringEquals"]["kms:CallerAccount"] == [
        "111122223333", "444455556666"]
    through = {"kms:ViaService": "s3.eu-central-1.amazonaws.com", "aws:CurrentTime": "2026-12-04T00:00:00Z",
               "kms:CallerAccount": "111122223333"}
    kms_star = (PolicyDocument((Statement("Allow", actions=("kms:*",), resources=("*",)),)),)
    assert not world.decide(ADMIN, "kms:Decrypt", KEY, {**through, "kms:ViaService": "sqs.eu-central-1.amazonaws.com",
                            "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::acme-llm-weights/x"},
                            extra_identity=kms_star).allowed
    assert not world.decide(ADMIN, "kms:Decrypt", KEY, {**through,
                            "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::attacker-bucket/x"},
                            extra_identity=kms_star).allowed
    assert world.decide(INFERENCE, "kms:Decrypt", KEY, {**through,
                        "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::acme-llm-weights/released/m"}).allowed
    # an authorization token is account-scope, no repository policy guards it: it stays named
    assert not world.decide(TRAINER, "ecr:GetAuthorizationToken", "*", ecr, extra_identity=star).allowed
    assert world.decide(INFERENCE, "ecr:GetAuthorizationToken", "*", ecr).allowed


def test_the_prover_proves_the_account_wide_form(account_wide):
    world = World.from_artifacts(account_wide.model, account_wide.artifacts)
    results = prove(world, timeout_ms=20_000)
    assert [r.verdict for r in results] == [PROVED] * 8, [(r.prop.name, r.verdict) for r in results]
    # the reachability of the coarse key is assumed, and the proof says so; an exact key is not
    assert "assuming S3 calls KMS with key `model_key` for a caller only on a request S3 has authorized" in (
        R.universe(results))
    exact = compile_text(EXAMPLE.read_text(), "sovereign_llm.slp")
    assert R.universe(prove(World.from_artifacts(exact.model, exact.artifacts), numbers=[1])) == R.UNIVERSE


def test_platform_endpoint_policies_fit_by_naming_accounts():
    compiled = compile_text(platform(120), "platform.slp")
    over = {d.message.split("`")[1] for d in compiled.diagnostics if d.code == "E501"}
    assert not {n for n in over if n.endswith((".s3", ".ecr.api", ".ecr.dkr"))}
    assert {d.message.split("`")[1] for d in compiled.diagnostics if d.code == "W351"} == {
        "train_vpc.s3", "serve_vpc.s3", "eval_vpc.s3", "train_vpc.ecr.api", "train_vpc.ecr.dkr",
        "serve_vpc.ecr.api", "serve_vpc.ecr.dkr"}


@pytest.fixture(scope="module")
def patterned():
    """The 30-team platform with its S3 endpoint policies in the patterned form."""
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp, patterns=True)
        compiled = compile_text(platform(30), "platform.slp")
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    return compiled


def test_the_patterned_form_is_stated(patterned):
    warned = {d.message.split("`")[1] for d in patterned.diagnostics if d.code == "W356"}
    assert warned == {"train_vpc.s3", "serve_vpc.s3", "eval_vpc.s3"}
    for a in patterned.artifacts:
        if a.name in warned:
            assert ("names buckets by pattern arn:aws:s3:::acme-ml-datasets-*, "
                    "arn:aws:s3:::acme-ml-weights-* in account 111122223333") in a.coarser
            allow = next(s for s in json.loads(a.text)["Statement"] if s["Sid"] == "AllowGrantsToTheGranteesAccounts")
            assert allow["Condition"]["StringEquals"]["aws:ResourceAccount"] == "111122223333"


def test_the_patterned_form_keeps_the_spec_and_reaches_only_buckets_so_named(patterned):
    world = Deployment.from_artifacts(patterned.artifacts)
    model = patterned.model
    train = next(v for s, v in model.networks["train_vpc"].endpoints if s == "s3")
    via = {"aws:SourceVpce": train, "aws:SecureTransport": "true", "s3:TlsVersion": "1.3",
           "aws:CurrentTime": "2026-12-04T00:00:00Z"}
    star = (PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),)),)
    me, other = (model.principals[n].arn for n in ("team000_training", "team001_training"))
    ap = model.access_points("weights_00")["team000_training"]
    mine = f"{ap.arn}/object/team-000/checkpoints/step-1"
    assert world.decide(me, "s3:PutObject", mine, via).allowed
    assert not world.decide(other, "s3:PutObject", mine, via, extra_identity=star).allowed
    assert not world.decide(me, "s3:PutObject", f"{ap.arn}/object/team-001/checkpoints/x", via,
                            extra_identity=star).allowed
    # the stated coarsening: a bucket of the account named like the spec's is reachable ...
    assert world.decide(me, "s3:PutObject", "arn:aws:s3:::acme-ml-weights-99/x", via, extra_identity=star,
                        resource_account="111122223333").allowed
    # ... and no other: another name, or that name in another account
    assert not world.decide(me, "s3:PutObject", "arn:aws:s3:::attacker-bucket/x", via, extra_identity=star,
                            resource_account="111122223333").allowed
    assert not world.decide(me, "s3:PutObject", "arn:aws:s3:::acme-ml-weights-99/x", via, extra_identity=star,
                            resource_account="999988887777").allowed


def test_the_prover_proves_the_patterned_form_through_access_points():
    """Through access points the patterned form names every access point of the account:
    exact only because S3 asks the endpoint policy about the bucket behind it too."""
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp, patterns=True)
        compiled = compile_text(SHARED.read_text(), "shared_bucket.slp")
    assert compiled.ok and "W356" in {d.code for d in compiled.diagnostics}
    doc = next(a.document for a in compiled.artifacts if a.kind == "vpc-endpoint-policy" and a.name.endswith(".s3"))
    assert any(r.endswith(":accesspoint/*") for s in doc.statements for r in s.resources)
    results = prove(World.from_artifacts(compiled.model, compiled.artifacts), timeout_ms=20_000)
    assert [r.verdict for r in results] == [PROVED] * 8, [(r.prop.name, r.verdict) for r in results]


def test_the_gaps_are_stated_and_are_exactly_what_they_say():
    """Where no resource policy decides who (ECR's authorization token, invoking a
    SageMaker endpoint), the accounts form is a gap: stated (W357, `coarser`), and
    no wider than stated: the gap's action, through that endpoint, by the grantees'
    accounts only; repositories and other endpoints stay exactly the spec's."""
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp, gaps=True)
        compiled = compile_text(EXAMPLE.read_text(), "sovereign_llm.slp")
    assert compiled.ok
    gaps = {d.message.split("`")[1] for d in compiled.diagnostics if d.code == "W357"}
    assert gaps == {"prod_vpc.ecr.api", "prod_vpc.ecr.dkr", "prod_vpc.sagemaker.runtime"}
    assert all("(a gap)" in a.coarser for a in compiled.artifacts if a.name in gaps)
    world = Deployment.from_artifacts(compiled.artifacts)
    star = (PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),)),)
    ecr = {"aws:SourceVpce": PROD_ECR_DKR, "aws:SecureTransport": "true", "aws:CurrentTime": "2026-12-04T00:00:00Z"}
    assert world.decide(ADMIN, "ecr:GetAuthorizationToken", "*", ecr, extra_identity=star).allowed  # the gap
    assert not world.decide("arn:aws:iam::999988887777:role/x", "ecr:GetAuthorizationToken", "*", ecr,
                            extra_identity=star).allowed
    assert not world.decide(ADMIN, "ecr:BatchGetImage", SERVING, ecr, extra_identity=star).allowed
    assert world.decide(INFERENCE, "ecr:BatchGetImage", SERVING, ecr).allowed
    sm = {**ecr, "aws:SourceVpce": "vpce-01a2b3c4d5e6f7a84"}
    chat = "arn:aws:sagemaker:eu-central-1:111122223333:endpoint/llm-chat-prod"
    # the endpoint policy lets the account through; the SCP closes it to the grantee (no SCP: W533, W534)
    assert not world.decide(ADMIN, "sagemaker:InvokeEndpoint", chat, sm, extra_identity=star).allowed
    assert Deployment.from_artifacts([a for a in compiled.artifacts if a.kind != "scp"]).decide(
        ADMIN, "sagemaker:InvokeEndpoint", chat, sm, extra_identity=star).allowed  # the gap without it
    assert not world.decide(ADMIN, "sagemaker:InvokeEndpoint", chat.replace("prod", "other"), sm,
                            extra_identity=star).allowed
    assert world.decide("arn:aws:iam::111122223333:role/chat-frontend", "sagemaker:InvokeEndpoint", chat, sm).allowed


def test_the_platform_at_ten_times_compiles_within_every_limit():
    """1,200 teams (~11,000 grants), guardrails on: every policy within its limit and
    every guardrail attachable, each coarser form and gap stated."""
    compiled = compile_text(platform(1200), "platform.slp")
    assert compiled.ok, sorted({d.code for d in compiled.diagnostics if d.is_error})
    codes = {d.code for d in compiled.diagnostics}
    assert {"W353", "W355", "W356", "W357"} <= codes and "W532" not in codes
    assert all(a.size <= RULES[a.kind].limit for a in compiled.artifacts if a.document is not None)
    stated = {a.name for a in compiled.artifacts if a.kind == "vpc-endpoint-policy" and a.coarser}
    assert stated == {f"{net}.{svc}" for net in ("train_vpc", "serve_vpc") for svc in ("s3", "ecr.api", "ecr.dkr")} | {
        "eval_vpc.s3", "serve_vpc.sagemaker.runtime"}


@pytest.mark.parametrize("mode", ["no_gaps", "exact"])
def test_a_network_chooses_how_coarse_its_endpoint_policies_may_become(mode):
    """`endpoint_policies no_gaps` stops before the stated gaps (W357), `exact` keeps every
    principal named; the other network keeps the whole ladder."""
    text = EXAMPLE.read_text().replace("network prod_vpc {", f"network prod_vpc {{\n  endpoint_policies {mode}", 1)
    with pytest.MonkeyPatch.context() as mp:
        _force_account_wide(mp, gaps=True)
        compiled = compile_text(text, "sovereign_llm.slp")
    assert compiled.ok
    prod = {a.name: a for a in compiled.artifacts if a.kind == "vpc-endpoint-policy" and a.name.startswith("prod_vpc.")}
    assert "W357" not in {d.code for d in compiled.diagnostics}
    if mode == "exact":
        assert not any(a.coarser for a in prod.values())
    else:
        assert prod["prod_vpc.ecr.api"].coarser and "(a gap)" not in prod["prod_vpc.ecr.api"].coarser
        assert not prod["prod_vpc.sagemaker.runtime"].coarser
    assert next(a for a in compiled.artifacts if a.name == "eval_vpc.s3").coarser  # its own ladder


def test_an_endpoint_held_exact_that_cannot_fit_says_how_to_let_it_coarsen():
    text = platform(120).replace("network train_vpc {", "network train_vpc {\n  endpoint_policies exact", 1)
    compiled = compile_text(text, "platform.slp")
    over = [d for d in compiled.diagnostics if d.code == "E501" and "`train_vpc." in d.message]
    assert over and all("remove `endpoint_policies` from network train_vpc" in d.hint for d in over)
    assert not [d for d in compiled.diagnostics if d.code == "E501" and "`serve_vpc." in d.message]


def test_a_key_held_exact_that_cannot_fit_says_how_to_split_or_let_it_coarsen():
    """`key_policy exact` never takes the account-wide form: a key naming each grantee over
    the limit is E501, whose hint names runs of buckets for keys of their own and how to
    let it coarsen; a key left `auto` still names its accounts (W352)."""
    text = platform(120).replace("key weights_key {", "key weights_key {\n  key_policy exact", 1)
    compiled = compile_text(text, "platform.slp")
    assert not compiled.ok
    over = [d for d in compiled.diagnostics if d.code == "E501" and "`weights_key`" in d.message]
    assert len(over) == 1
    assert re.search(r"its 12 buckets, in source order, fit \d+ key policies \(weights_00[,;].*\): "
                     r"encrypt each run's buckets with a key of its own", over[0].hint)
    assert "remove `key_policy exact` to let it name the grantees' accounts instead (W352)" in over[0].hint
    assert {d.message.split("`")[1] for d in compiled.diagnostics if d.code == "W352"} == {"datasets_key"}


def test_a_key_held_exact_that_fits_is_written_as_in_auto():
    auto = compile_text(EXAMPLE.read_text(), "sovereign_llm.slp")
    text = EXAMPLE.read_text().replace("key model_key {", "key model_key {\n  key_policy exact", 1)
    exact = compile_text(text, "sovereign_llm.slp")
    assert auto.ok and exact.ok
    assert [(a.path, a.text) for a in exact.artifacts] == [(a.path, a.text) for a in auto.artifacts]


@pytest.mark.parametrize("mode", ["auto", "exact"])
def test_a_keys_form_is_chosen_at_the_limit_itself(monkeypatch, mode):
    """A key policy naming each grantee is kept while it is at most the limit; one byte over,
    `auto` names accounts (W352) and `exact` is E501."""
    text = EXAMPLE.read_text().replace("key model_key {", f"key model_key {{\n  key_policy {mode}", 1)
    exact = next(a for a in compile_text(text, "spec.slp").artifacts if a.kind == key.KIND).size
    for limit, coarser in ((exact, False), (exact - 1, True)):
        monkeypatch.setitem(RULES, key.KIND, RULES[key.KIND].__class__(limit, "bytes", "as-written", "KMS key policy"))
        compiled = compile_text(text, "spec.slp")
        codes = {d.code for d in compiled.diagnostics}
        if not coarser:
            assert compiled.ok and "W352" not in codes
        elif mode == "auto":
            assert compiled.ok and "W352" in codes
            assert next(a for a in compiled.artifacts if a.kind == key.KIND).coarser
        else:
            assert not compiled.ok and "E501" in codes and "W352" not in codes


def test_many_shared_endpoints_are_held_to_their_grantees_together_and_say_so():
    """300 teams share 20 endpoints: each endpoint to its own 15 grantees takes more SCPs than AWS
    attaches, so the SCP holds all endpoints to all their grantees (W535), which still keeps out
    everyone else and every grantee outside its network; the gap it names is real."""
    compiled = compile_text(platform(300), "platform.slp")
    assert compiled.ok
    assert [d for d in compiled.diagnostics if d.code == "W535"]
    assert not [d for d in compiled.diagnostics if d.code == "W532"]
    scps = [a for a in compiled.artifacts if a.kind == "scp"]
    ev = Evaluator(scps=[PolicyDocument(tuple(s for a in scps for s in a.document.statements)
                                        + (Statement("Allow", actions=("*",), resources=("*",)),))],
                   identity=[PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))])
    chat = "arn:aws:sagemaker:eu-central-1:111122223333:endpoint/llm-chat-00"
    serve = next(v for n in compiled.model.networks.values() if n.name == "serve_vpc"
                 for s, v in n.endpoints if s == "sagemaker.runtime")
    role = lambda name: f"arn:aws:iam::111122223333:role/ml-platform/{name}"  # noqa: E731

    def invoke(principal: str, ctx: dict) -> bool:
        return ev.evaluate(Request(principal, "sagemaker:InvokeEndpoint", chat,
                                   context={"aws:RequestedRegion": "eu-central-1", **ctx})).allowed
    assert invoke(role("team000-frontend"), {"aws:SourceVpce": serve})
    assert not invoke(role("team000-frontend"), {"aws:SourceIp": "203.0.113.50"})
    assert not invoke("arn:aws:iam::111122223333:role/Admin", {"aws:SourceVpce": serve})
    assert not invoke(role("team000-training"), {"aws:SourceVpce": serve})
    assert invoke(role("team001-frontend"), {"aws:SourceVpce": serve})  # chat_01's grantee: W535's gap
