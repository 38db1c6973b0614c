"""`slpc import` against moto's server: an account built by hand (import_fixtures, not
by slpc), read strictly read-only, drafted into a spec that compiles."""

from __future__ import annotations

import argparse
import io
import json
import re
import urllib.request

import pytest

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

import import_fixtures as F  # noqa: E402
import live_fixtures as L  # noqa: E402
from test_validate_live import READ_ONLY_PREFIXES, Recorder, server  # noqa: E402,F401  (the moto server fixture)

from slpc.app.cli import main  # noqa: E402
from slpc.app.commands import import_ as command  # noqa: E402
from slpc.app.io import IO  # noqa: E402
from slpc.app.pipeline import compile_text  # noqa: E402
from slpc.dsl import ast, format_spec, parse  # noqa: E402
from slpc.verify.live.current_access import Today  # noqa: E402
from slpc.verify.live.discover import Discovery  # noqa: E402
from slpc.verify.live.fetch import Fetcher  # noqa: E402
from slpc.compiler.verbs import VERBS  # noqa: E402


@pytest.fixture
def account(server):
    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST")).read()
    return F.build(server)


def discover(acct, session=None, regions=(L.REGION,)):
    f = Fetcher(session or F.session(acct), region=L.REGION, endpoint_url=acct.url)
    return Discovery(f, f.caller_account(), regions).run()


def args(acct, output, *, regions=(L.REGION,), fmt="text", profile=None):
    return argparse.Namespace(profile=profile, account_profile=[], region=list(regions), endpoint_url=acct.url,
                              output=str(output), format=fmt)


def run(acct, output, session=None, **kw) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args(acct, output, **kw), IO(out, err), session=session or F.session(acct))
    return code, out.getvalue(), err.getvalue()


def grants(text: str, *, adding: bool | None = None) -> set[tuple]:
    """(role name, verb, AWS name of the asset, prefix) of each grant of the draft; with
    `adding`, only those whose TODO says the grant adds actions (True) or not (False)."""
    spec = parse(text, "draft.slp").spec
    names = {d.name.text: d for d in spec.declarations if isinstance(d, (ast.Bucket, ast.Repository, ast.Endpoint))}
    roles = {d.name.text: d.arn.value for d in spec.declarations if isinstance(d, ast.Role)}
    adds = {c.span.line for c in spec.comments if "adds " in c.text}

    def asset(name):
        d = names[name]
        return d.bucket.value if isinstance(d, ast.Bucket) else (
            d.repository.value if isinstance(d, ast.Repository) else d.sagemaker.value)
    return {(roles[a.principal.text].rsplit("/", 1)[1], a.verb.text, asset(a.asset.text),
             a.prefix.value if a.prefix else "") for a in spec.declarations
            if isinstance(a, ast.Allow) and (adding is None or (a.span.line in adds) == adding)}


# --------------------------------------------------------------------------- #
# The inventory


def test_every_model_location_is_found(account):
    inv = discover(account)
    assert {(b.name, p) for b in inv.buckets for p in b.prefixes} == F.MODEL_LOCATIONS
    assert F.UNRELATED not in {b.name for b in inv.buckets}
    assert [b.why for b in inv.buckets if b.name == F.TAGGED] == ["its tags"]
    assert {r.name for r in inv.repositories} == {"llm-serving", "chat-frontend"}  # the images the workloads run
    assert {r.arn for r in inv.roles} == set(account.roles.values())
    assert {k.arn: k.encrypts for k in inv.keys} == {
        account.key_arn: ("bedrock imported model llama-3-8b-ft (model)", f"s3 bucket {F.MODELS}",
                          "sagemaker training job finetune-1 (output)"),
        account.volume_key_arn: ("sagemaker endpoint chat-prod (volume)", "sagemaker training job finetune-1 (volume)")}
    assert [(b.key_arn, b.bucket_key) for b in inv.buckets if b.name == F.MODELS] == [(account.key_arn, True)]
    assert [(e.name, e.models) for e in inv.endpoints] == [("chat-prod", ("chat-v1",))]
    assert sorted((n.vpc, tuple(sorted({s: i for s, i, _ in n.endpoints}.items())), n.subnets)
                  for n in inv.networks) == sorted([
        (account.vpc, tuple(sorted(account.vpces.items())), (account.subnet,)),
        (account.web_vpc, (("sagemaker.runtime", account.web_vpce),), (account.web_subnet,))])
    assert [(w.name, w.roles, w.model_uris, w.subnets) for w in inv.workloads
            if w.kind == "bedrock imported model"] == [
        ("llama-3-8b-ft", (account.roles["importer"],), (f"s3://{F.MODELS}/imports/llama-3-8b/",), (account.subnet,))]
    assert [(w.name, w.roles, w.data_uris, w.output_uris, w.subnets) for w in inv.workloads
            if w.kind == "bedrock model customization job"] == [
        ("llama-ft-1", (account.roles["finetuner"],), (f"s3://{F.FINETUNE}/bedrock/train.jsonl",),
         (f"s3://{F.MODELS}/bedrock-output/",), (account.subnet,))]
    assert [(loc.prefix, loc.role) for loc in inv.locations if loc.source.startswith("bedrock imported")] == [
        ("imports/llama-3-8b/", account.roles["importer"])]
    assert [(w.name, w.roles, w.subnets) for w in inv.workloads if w.kind == "ecs service"] == [
        ("chat/web", (account.roles["frontend"],), (account.web_subnet,))]
    assert inv.problems == ()


def test_discovery_pages_through_every_listing(account):
    """Two endpoints on two pages of ListEndpoints: without paging the second is missed."""
    account_client(account, "sagemaker").create_endpoint(EndpointName="chat-canary",
                                                         EndpointConfigName="chat-prod-config")
    session, pages = F.session(account), []

    def one_per_page(params, **_):
        params["MaxResults"] = 1
        pages.append(params.get("NextToken"))
    session.events.register("provide-client-params.sagemaker.ListEndpoints", one_per_page)
    inv = discover(account, session)
    assert len(pages) >= 2 and pages[0] is None and all(pages[1:])
    assert [e.name for e in inv.endpoints] == ["chat-canary", "chat-prod"]


def test_only_the_newest_revision_of_a_task_definition_is_read(account):
    account_client(account, "ecs").register_task_definition(
        family="chat-frontend", taskRoleArn=account.roles["trainer"],
        containerDefinitions=[{"name": "web", "image": F.IMAGE.format("chat-frontend"), "memory": 512}])
    inv = discover(account)
    assert [(w.name, w.roles) for w in inv.workloads if w.kind == "ecs task definition"] == [
        ("chat-frontend:2", (account.roles["trainer"],))]


def account_client(acct, service):
    return L.session().client(service, endpoint_url=acct.url, region_name=L.REGION)


# --------------------------------------------------------------------------- #
# The draft


def test_import_writes_a_compiling_draft_of_todays_access(account, tmp_path):
    code, out, err = run(account, tmp_path / "draft.slp")
    assert code == 0, err
    text = (tmp_path / "draft.slp").read_text()
    compiled = compile_text(text, "draft.slp")
    assert compiled.ok, [str(d) for d in compiled.diagnostics if d.is_error]
    assert format_spec(parse(text, "draft.slp").spec) == text  # already in `slpc fmt`'s canonical layout
    assert grants(text) == {
        ("llm-inference", "read", F.MODELS, "released/v1/"),
        ("llm-inference", "pull", "llm-serving", ""),
        ("llm-trainer", "read", F.FINETUNE, "train/"), ("llm-trainer", "write", F.FINETUNE, "train/"),
        ("llm-trainer", "list", F.FINETUNE, "train/"), ("llm-trainer", "delete", F.FINETUNE, "train/"),
        ("llm-trainer", "write", F.MODELS, "checkpoints/"),
        ("llm-trainer", "read", F.MODELS, "checkpoints/"),  # s3:GetObject today: the TODO says what read adds
        ("chat-frontend-task", "invoke", "chat-prod", ""),
        ("rag-indexer", "read", F.MODELS, "released/v1/"),  # EKS pod identity
        ("notebooks", "read", F.FINETUNE, "train/"),  # IRSA, a pattern of service accounts
        # IRSA; s3:ListBucket alone is `list` (adds GetBucketLocation), not `read` (adds GetObject)
        ("eval-harness", "list", F.MODELS, "released/v1/"), ("eval-harness", "list", F.MODELS, "checkpoints/"),
        ("eval-harness", "list", F.MODELS, "imports/llama-3-8b/"),
        ("bedrock-import", "read", F.MODELS, "imports/llama-3-8b/"),  # a Bedrock model import job's role
        # a Bedrock fine-tuning job's role: its training file and its output folder
        ("bedrock-finetune", "read", F.FINETUNE, "bedrock/train.jsonl"),
        ("bedrock-finetune", "write", F.MODELS, "bedrock-output/"),
        # roles without S3 URIs of their own are asked under every model location
        ("notebooks", "read", F.FINETUNE, "bedrock/train.jsonl"), ("eval-harness", "list", F.MODELS, "bedrock-output/"),
    }
    assert "assumed_by service bedrock" in text
    assert f"today its trust holds the service to aws:SourceAccount StringEquals {L.ACCOUNT}" in text
    assert "bedrock imported model llama-3-8b-ft (model) could no longer use it" in text
    # every model location is in the draft and in the summary
    for bucket, prefix in F.MODEL_LOCATIONS:
        assert f'name    "{bucket}"' in text and prefix in text and f"s3://{bucket}/{prefix}" in out
    assert "adds s3:GetObjectVersion, s3:ListBucket (not held today)" in text
    # the models bucket's key leaves its use to IAM (AWS's default key policy) and the inference
    # role's policies give no kms:Decrypt: S3 could not decrypt its model for it today
    assert re.search(r'allow llm_inference +read +acme_models "released/v1/".*adds kms:Decrypt \(not held today\)',
                     text)
    assert "today its policy lets anyone (no credentials) s3:GetObject" in text
    assert f"today its policy lets account {F.OTHER_ACCOUNT} s3:GetObject, s3:ListBucket" in text
    assert f'arn    "{account.key_arn}"' in text and f'vpc "{account.vpc}"' in text
    assert "unused-experiments" not in text and F.UNRELATED not in text
    assert err == ""


def test_the_drafted_grants_are_held_today(account, tmp_path):
    """Each grant without an `adds` TODO is held in full today, for every action of its
    verb (KMS aside), from its networks, under its prefix: asked again of the deployed
    policies through the evaluator, on the text of the draft."""
    run(account, tmp_path / "draft.slp")
    text = (tmp_path / "draft.slp").read_text()
    today = Today(discover(account))
    held = grants(text, adding=False)
    assert len(held) == 5 and len(grants(text, adding=True)) == 14
    for role, verb, asset, prefix in held:
        kind = "bucket" if asset in (F.MODELS, F.FINETUNE) else "repository" if asset == "llm-serving" else "endpoint"
        target = asset if kind == "bucket" else (
            f"arn:aws:ecr:{L.REGION}:{L.ACCOUNT}:repository/{asset}" if kind == "repository" else
            f"arn:aws:sagemaker:{L.REGION}:{L.ACCOUNT}:endpoint/{asset}")
        service = {"bucket": "s3", "repository": "ecr.dkr", "endpoint": "sagemaker.runtime"}[kind]
        ctx = {"aws:SourceVpce": account.vpces[service], "aws:SourceVpc": account.vpc}
        every = {a for a, scope in VERBS[(kind, verb)].actions if not scope.startswith("key")}
        assert set(today.holds(f"arn:aws:iam::{L.ACCOUNT}:role/{role}", kind, target, verb, prefix, ctx)) == every


def test_eks_workloads_are_found_and_say_who_obtains_their_roles(account, tmp_path):
    """Pod identity from the cluster's associations, IRSA from the roles' trust: each an
    `assumed_by` of its role; a trust admitting a pattern is a TODO; a role of EKS pods that
    holds nothing on the model assets is named, not drafted. The pods run in the cluster's VPC."""
    inv = discover(account)
    eks = {(w.kind, w.name): (w.roles, w.subnets, w.identity) for w in inv.workloads if w.kind.startswith("eks")}
    assert eks == {
        ("eks pod identity", "chat-eks/chat/rag-indexer"): (
            (account.roles["indexer"],), (account.subnet,), (account.cluster_arn, "chat", "rag-indexer")),
        ("eks service account (IRSA)", f"{F.IRSA_ISSUER}/eval/harness"): (
            (account.roles["eval-harness"],), (), (F.IRSA_ISSUER, "eval", "harness")),
        ("eks service account (IRSA)", "chat-eks (subjects like system:serviceaccount:notebooks:*)"): (
            (account.roles["notebooks"],), (account.subnet,), ()),
        ("eks service account (IRSA)", "chat-eks/kube-system/ebs-csi-controller-sa"): (
            (account.roles["ebs-csi-driver"],), (account.subnet,), (account.issuer, "kube-system",
                                                                     "ebs-csi-controller-sa")),
    }
    run(account, tmp_path / "draft.slp")
    text = (tmp_path / "draft.slp").read_text()
    spec = parse(text, "draft.slp").spec
    roles = {d.name.text: d for d in spec.declarations if isinstance(d, ast.Role)}
    way = lambda w: (w.kind.text, w.subject.value if isinstance(w.subject, ast.Str) else w.subject.text,  # noqa: E731
                     tuple((q.text, v.value) for q, v in w.qualifiers))
    assert [way(w) for w in roles["rag_indexer"].assumed_by] == [
        ("eks_pod", account.cluster_arn, (("namespace", "chat"), ("service_account", "rag-indexer")))]
    assert [way(w) for w in roles["eval_harness"].assumed_by] == [
        ("irsa", F.IRSA_ISSUER, (("namespace", "eval"), ("service_account", "harness")))]
    assert not roles["notebooks"].block
    assert (f"its trust policy admits Federated {account.issuer} for subjects like "
            "system:serviceaccount:notebooks:*") in text
    assert "ebs_csi_driver" not in roles and f"Not drafted: {account.roles['ebs-csi-driver']}" in text
    assert "`passed_by ROLE to eks_pod`" in text


def test_a_grant_comes_from_the_networks_its_role_s_workloads_run_in(account, tmp_path):
    """The frontend's role may invoke the endpoint from both VPCs today; its ECS service runs
    in one of them: the grant names that one, and its TODO the other."""
    run(account, tmp_path / "draft.slp")
    text = (tmp_path / "draft.slp").read_text()
    spec = parse(text, "draft.slp").spec
    web, models = account.web_vpc.replace("-", "_"), account.vpc.replace("-", "_")
    (grant,) = [a for a in spec.declarations if isinstance(a, ast.Allow) and a.principal.text == "chat_frontend_task"]
    assert [n.text for n in grant.networks] == [web]
    (note,) = [c.text for c in spec.comments if c.span.line == grant.span.line]
    assert f"held today from {models} and outside these networks" in note
    # the SageMaker roles' workloads run in the models' VPC, their grants come from it alone
    assert {tuple(n.text for n in a.networks) for a in spec.declarations
            if isinstance(a, ast.Allow) and a.principal.text != "chat_frontend_task"} == {(models,)}


def test_the_draft_is_deterministic(account, tmp_path):
    run(account, tmp_path / "a.slp")
    run(account, tmp_path / "b.slp")
    assert (tmp_path / "a.slp").read_text() == (tmp_path / "b.slp").read_text()


def test_import_is_strictly_read_only(account, tmp_path):
    session = F.session(account)
    rec = Recorder(session)
    assert run(account, tmp_path / "draft.slp", session)[0] == 0
    assert {"ListBuckets", "ListObjectsV2", "GetBucketLocation", "GetBucketPolicy", "GetBucketEncryption",
            "ListModels", "DescribeModel", "ListTrainingJobs", "DescribeTrainingJob", "ListEndpoints",
            "DescribeEndpoint", "DescribeEndpointConfig", "ListModelPackages", "ListTaskDefinitions",
            "DescribeTaskDefinition", "DescribeRepositories", "GetRepositoryPolicy", "DescribeKey", "GetKeyPolicy",
            "GetRole", "ListRolePolicies", "GetRolePolicy", "ListAttachedRolePolicies", "GetPolicyVersion",
            "DescribeSubnets", "DescribeVpcEndpoints", "GetBucketTagging", "ListClusters", "ListServices",
            "DescribeServices", "ListClusters", "DescribeCluster", "ListPodIdentityAssociations",
            "DescribePodIdentityAssociation", "ListRoles", "ListImportedModels", "GetImportedModel",
            "GetModelImportJob", "ListModelCustomizationJobs", "GetModelCustomizationJob"} <= set(rec.ops)
    assert [op for op in rec.ops if not op.startswith(READ_ONLY_PREFIXES)] == []


def test_json_summary(account, tmp_path):
    code, out, _ = run(account, tmp_path / "draft.slp", fmt="json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 1 and doc["draft"] == str(tmp_path / "draft.slp")
    assert "W430" in doc["draft_warnings"] and not [c for c in doc["draft_warnings"] if c.startswith("E")]
    assert {(b["name"], p) for b in doc["inventory"]["buckets"] for p in b["prefixes"]} == F.MODEL_LOCATIONS
    assert {(x["asset"], x["who"]) for x in doc["exposures"]} == {(F.PUBLIC, "anyone"), (F.PARTNER, F.OTHER_ACCOUNT)}
    pods = [w for w in doc["inventory"]["workloads"] if w["kind"] == "eks pod identity"]
    assert [(w["identity"], w["subnets"]) for w in pods] == [
        ({"subject": account.cluster_arn, "namespace": "chat", "service_account": "rag-indexer"}, [account.subnet])]
    (job,) = [w for w in doc["inventory"]["workloads"] if w["kind"] == "sagemaker training job"]
    assert job["keys"] == [{"key": "alias/sagemaker-volumes", "encrypts": "volume"},
                           {"key": account.key_arn, "encrypts": "output"}]
    # llm-trainer holds s3:* on its fine-tuning bucket: it may administer it today
    assert doc["admins"][F.FINETUNE] == [account.roles["trainer"]] and doc["admins"][account.key_arn] == []


def test_progress_line_on_a_terminal_only(account, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert command.run(args(account, tmp_path / "d.slp"), IO(out, err), session=F.session(account), tty=True) == 0
    lines = err.getvalue().split("\n")
    assert lines[0].startswith("\rslpc import: ") and lines[0].endswith(" resources read")
    assert lines[1].startswith("\rslpc import: ") and lines[1].endswith(" draft policies compared") and lines[2] == ""
    assert run(account, tmp_path / "d.slp")[2] == ""


# --------------------------------------------------------------------------- #
# Bad input


def test_region_with_nothing_gives_an_empty_draft(account, tmp_path):
    code, out, err = run(account, tmp_path / "draft.slp", regions=("eu-west-3",))
    text = (tmp_path / "draft.slp").read_text()
    assert code == 0 and err == ""
    assert "# TODO: nothing found in eu-west-3" in text and 'regions ["eu-west-3"]' in text
    assert compile_text(text, "draft.slp").ok and "allow" not in text


def test_unknown_profile_exit_2(account, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    out, err = io.StringIO(), io.StringIO()
    assert command.run(args(account, tmp_path / "d.slp", profile="nope"), IO(out, err)) == 2
    assert err.getvalue() == "slpc import: profile not found: nope\n" and not (tmp_path / "d.slp").exists()


def test_a_profile_from_the_config_file(account, tmp_path, monkeypatch, capsys):
    """The whole command line, with credentials from a named profile."""
    (tmp_path / "credentials").write_text("[moto]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert main(["import", "--profile", "moto", "--region", L.REGION, "--endpoint-url", account.url,
                 "-o", str(tmp_path / "d.slp")]) == 0
    assert "draft written to" in capsys.readouterr().out and (tmp_path / "d.slp").exists()


def _user_session(acct, name: str, policy: dict | None):
    iam = account_client(acct, "iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=L.REGION)


def enforce(monkeypatch):
    """From now on moto checks each request against the caller's IAM policies (as AWS does)."""
    from moto import settings
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)


def test_no_permissions_at_all_exit_2_one_line(account, tmp_path, monkeypatch):
    session = _user_session(account, "nobody", None)
    enforce(monkeypatch)
    code, out, err = run(account, tmp_path / "d.slp", session)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("slpc import: no permission to read this account's model assets (refused: ")
    assert "s3:ListAllMyBuckets" in err and "sagemaker:ListModels" in err and not (tmp_path / "d.slp").exists()


def test_access_denied_on_one_resource_is_a_finding(account, tmp_path, monkeypatch):
    session = _user_session(account, "most", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": f"arn:aws:s3:::{F.PUBLIC}"},
        {"Effect": "Deny", "Action": "sagemaker:DescribeTrainingJob", "Resource": "*"}]})
    enforce(monkeypatch)
    code, out, err = run(account, tmp_path / "d.slp", session)
    text = (tmp_path / "d.slp").read_text()
    assert code == 0 and compile_text(text, "d.slp").ok
    assert f"# TODO: not read: s3 bucket {F.PUBLIC}: needs s3:GetBucketPolicy" in text
    assert "# TODO: not read: sagemaker training job finetune-1: needs sagemaker:DescribeTrainingJob" in text
    assert f"not read: s3 bucket {F.PUBLIC}: needs s3:GetBucketPolicy" in out
    # found by their keys still (not the fine-tuning bucket, nor the Bedrock job's output: workloads name those)
    assert {(b, p) for b, p in F.MODEL_LOCATIONS if b != F.FINETUNE and p != "bedrock-output/"} <= {
        (loc.bucket, loc.prefix) for loc in discover(account, session).locations}


# --------------------------------------------------------------------------- #
# What is wider today than the draft


def test_what_is_wider_today_is_what_validate_reports_of_the_compiled_draft(account, tmp_path):
    """`slpc validate` of the compiled draft against the same account reports, on the
    draft's policies for the found assets and roles, exactly the extra access `slpc import`
    lists; the public and the cross-account bucket are listed with a request each."""
    from slpc.app.commands import validate
    from slpc.verify.live.wider import compared

    draft = tmp_path / "draft.slp"
    code, out, _ = run(account, draft, fmt="json")
    mine = json.loads(out)
    # a counterexample, or the count of those beyond the five shown per policy
    key = lambda f: (f["artifact"], json.dumps(f.get("request"), sort_keys=True), f.get("not_shown"))  # noqa: E731
    wider = {key(f) for f in mine["wider"]}
    vout = io.StringIO()
    assert validate.run(argparse.Namespace(files=[str(draft)], profile=None, account_profile=[], region=L.REGION,
                                           endpoint_url=account.url, format="json", checks="drift"),
                        IO(vout, io.StringIO()), session=L.session()) == 1
    paths = {a.path for a in compared(compile_text(draft.read_text(), str(draft)).artifacts)}
    theirs = {key(f) for f in json.loads(vout.getvalue())["findings"]
              if f["code"] == "extra-access" and f["artifact"] in paths}
    assert code == 0 and wider and wider == theirs
    assert {f["artifact"] for f in mine["wider"]} >= {"s3/acme_public_share.json", "s3/acme_partner_exchange.json",
                                                     f"iam/{L.ACCOUNT}/llm_inference.json",
                                                     f"iam/{L.ACCOUNT}/llm_inference.trust.json"}
    assert {(x["asset"], r["principal"], r["action"]) for x in mine["exposures"] for r in x["requests"]} == {
        (F.PUBLIC, "*anonymous*", "s3:GetObject"),
        (F.PARTNER, f"arn:aws:iam::{F.OTHER_ACCOUNT}:role/slpc-import-probe", "s3:GetObject"),
        (F.PARTNER, f"arn:aws:iam::{F.OTHER_ACCOUNT}:role/slpc-import-probe", "s3:ListBucket")}


# --------------------------------------------------------------------------- #
# Several accounts: --account-profile ACCOUNT=PROFILE (tests inject the sessions)


def _cross_account_model(acct) -> str:
    """A model of the main account running as a role of the other account."""
    iam = L.session(F.OTHER_ACCOUNT).client("iam", endpoint_url=acct.url, region_name=L.REGION)
    arn = iam.create_role(RoleName="partner-inference", AssumeRolePolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="partner-inference", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{F.PARTNER}/*"}]}))
    account_client(acct, "sagemaker").create_model(
        ModelName="partner-v1", ExecutionRoleArn=arn,
        PrimaryContainer={"Image": F.IMAGE.format("llm-serving"), "ModelDataUrl": f"s3://{F.PARTNER}/exports/m.tar.gz"})
    return arn


def test_a_role_of_another_account_is_read_with_its_profile(account, tmp_path):
    arn = _cross_account_model(account)
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args(account, tmp_path / "d.slp"), IO(out, err), session=F.session(account),
                       sessions={F.OTHER_ACCOUNT: L.session(F.OTHER_ACCOUNT)})
    text = (tmp_path / "d.slp").read_text()
    assert code == 0 and compile_text(text, "d.slp").ok and f'"{arn}"' in text
    assert ("partner-inference", "read", F.PARTNER, "exports/") in grants(text)  # its policy, the bucket's: both allow


def test_without_its_profile_a_role_of_another_account_is_not_read(account, tmp_path):
    arn = _cross_account_model(account)
    code, out, _ = run(account, tmp_path / "d.slp")
    text = (tmp_path / "d.slp").read_text()
    assert code == 0 and f"not read: {arn}: role of account {F.OTHER_ACCOUNT} not read (add --account-profile " \
                         f"{F.OTHER_ACCOUNT}=PROFILE)" in out
    assert "partner_inference" in text and ("partner-inference", "read", F.PARTNER, "exports/") not in grants(text)


def test_a_region_slpc_does_not_know_exit_2(account, tmp_path):
    code, out, err = run(account, tmp_path / "d.slp", regions=("moon-central-1",))
    assert code == 2 and out == "" and "error[E301]" in err and "moon-central-1" in err
    assert err.endswith("slpc import: the draft does not compile (see above); nothing written\n")
    assert not (tmp_path / "d.slp").exists() and "Traceback" not in err
