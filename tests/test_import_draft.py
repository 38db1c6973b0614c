"""`slpc import` without AWS: today's access and the draft from a plain Inventory.

The property tests build inventories (policies, buckets, keys, trust, networks) at
random and check two claims: what `current_access` says a role holds agrees with an
oracle that reads the generated statements directly, and every draft compiles.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import PROPERTY

from slpc.app.pipeline import compile_text
from slpc.compiler.verbs import VERBS
from slpc.dsl import ast, format_spec, parse
from slpc.verify.live import inventory as I
from slpc.verify.live.current_access import current_access
from slpc.verify.live.draft import PLACEHOLDER_CIDR, draft

ACCOUNT, REGION = "123456789012", "eu-central-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/llm-inference"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1b2c3d4e-1111-2222-3333-444455556666"
BUCKET = "acme-models"
SAGEMAKER_TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                  "Action": "sts:AssumeRole"}]}
# S3 actions of the bucket verbs, by the resource they name
OBJECT_ACTIONS = sorted({a for (k, _), v in VERBS.items() if k == "bucket" for a, s in v.actions if s == "object"})
BUCKET_ACTIONS = sorted({a for (k, _), v in VERBS.items() if k == "bucket" for a, s in v.actions
                         if s in ("bucket", "bucket-prefix")})
GRANT_PREFIXES = ("", "a/", "a/x/", "c/")


def inventory(statements, *, prefixes=("a/",), key=KEY, networks=(), trust=SAGEMAKER_TRUST, policy=None):
    return I.Inventory(ACCOUNT, "aws", (REGION,), buckets=(I.Bucket(BUCKET, REGION, "aws:kms" if key else "AES256",
                                                                    key, policy, prefixes, "its name"),),
                       keys=(I.Key(key, REGION, None),) if key else (),
                       roles=(I.Role(ROLE, trust, (("inline p", {"Version": "2012-10-17",
                                                                 "Statement": statements}),),
                                     ("sagemaker model chat",)),),
                       networks=networks)


def spec_text(inv) -> str:
    accesses, exposures, admins, _ = current_access(inv)
    return format_spec(draft(inv, accesses, exposures, admins))


def compiles(text: str) -> None:
    c = compile_text(text, "draft.slp")
    assert c.ok, [str(d) for d in c.diagnostics if d.is_error] + [text]
    assert format_spec(parse(text, "draft.slp").spec) == text


statements = st.lists(st.one_of(
    st.builds(lambda acts, p: {"Effect": "Allow", "Action": acts, "Resource": f"arn:aws:s3:::{BUCKET}/{p}*"},
              st.lists(st.sampled_from(OBJECT_ACTIONS), min_size=1, unique=True), st.sampled_from(GRANT_PREFIXES)),
    st.builds(lambda acts: {"Effect": "Allow", "Action": acts, "Resource": f"arn:aws:s3:::{BUCKET}"},
              st.lists(st.sampled_from(BUCKET_ACTIONS), min_size=1, unique=True))), max_size=4)


def oracle(stmts, prefix: str) -> set[str]:
    """The S3 actions the statements allow at `prefix`: an object action when a statement
    names a folder the probe object under `prefix` is in; a bucket action when named."""
    held = set()
    for s in stmts:
        res = s["Resource"]
        if res.endswith("*"):
            if prefix.startswith(res[len(f"arn:aws:s3:::{BUCKET}/"):-1]):
                held |= set(s["Action"])
        else:
            held |= set(s["Action"])
    return held


@pytest.mark.property
@PROPERTY
@given(statements)
def test_what_a_role_holds_agrees_with_its_statements(stmts):
    """Each verb reported holds exactly what the statements give (its `lacks` is the rest);
    together they hold every bucket action the role holds; none is redundant (a partial verb
    holds an action no other reported verb does); and no verb left out would grant what a
    reported partial verb holds while adding fewer actions."""
    accesses, _, _, _ = current_access(inventory(stmts))
    got = {a.verb: a for a in accesses}
    held, root = oracle(stmts, "a/"), oracle(stmts, "")
    verbs = {verb: [a for a, s in v.actions if not s.startswith("key")]
             for (kind, verb), v in VERBS.items() if kind == "bucket"}
    mine = {verb: held & set(every) for verb, every in verbs.items()}
    assert set().union(*(mine[v] for v in got)) == set().union(*mine.values())
    for verb, a in got.items():
        assert a.prefix == "a/" and a.lacks == tuple(x for x in verbs[verb] if x not in held)
        assert a.whole == (mine[verb] <= root) and a.anywhere and a.networks == ()
        if a.lacks:
            assert mine[verb] - set().union(*(mine[v] for v in got if v != verb))
            assert not [v for v in verbs if v not in got and mine[v] >= mine[verb]
                        and len(set(verbs[v]) - held) < len(a.lacks)]
    for verb in verbs:
        assert (verb in got) <= bool(mine[verb])


@pytest.mark.property
@PROPERTY
@given(statements, st.sampled_from([(), ("a/",), ("", "b/"), ("a/", "c/")]), st.booleans(),
       st.sampled_from([SAGEMAKER_TRUST, {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                                         "Action": "sts:AssumeRole"}]}, None]),
       st.booleans())
def test_every_draft_compiles(stmts, prefixes, with_key, trust, with_network):
    nets = (I.Network("vpc-0a1b2c3d4e5f67890", REGION, (("s3", "vpce-01a2b3c4d5e6f7a80", "gateway"),),
                      ("subnet-0a1b2c3d4e5f67890",)),) if with_network else ()
    compiles(spec_text(inventory(stmts, prefixes=prefixes, key=KEY if with_key else None, networks=nets,
                                 trust=trust)))


def test_a_grant_held_only_outside_the_found_networks_uses_the_placeholder_network():
    stmts = [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
              "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]
    text = spec_text(inventory(stmts))
    compiles(text)
    assert f'cidr "{PLACEHOLDER_CIDR}"' in text and "# TODO: a placeholder (TEST-NET-1" in text
    assert 'allow llm_inference read acme_models "a/" from todo_network  # TODO: held today on the whole bucket' in text


def test_a_network_condition_is_kept_and_no_placeholder_is_needed():
    """A role whose policy requires the VPC endpoint holds the verb through that network
    only: the grant names it, and says nothing about outside."""
    vpce = "vpce-01a2b3c4d5e6f7a80"
    stmts = [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
              "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/a/*"],
              "Condition": {"StringEquals": {"aws:SourceVpce": vpce}}}]
    nets = (I.Network("vpc-0a1b2c3d4e5f67890", REGION, (("s3", vpce, "gateway"),), ("subnet-0a1b2c3d4e5f67890",)),)
    text = spec_text(inventory(stmts, networks=nets))
    compiles(text)
    assert 'allow llm_inference read acme_models "a/" from vpc_0a1b2c3d4e5f67890\n' in text
    assert "todo_network" not in text


def test_a_deny_in_the_bucket_policy_removes_the_grant():
    stmts = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                           "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/x"}}}]}
    assert "allow " not in spec_text(inventory(stmts, policy=deny))
    assert "allow llm_inference read" in spec_text(inventory(stmts))


def test_trust_beyond_services_leaves_the_role_without_a_block():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "sts:AssumeRole"}]}
    text = spec_text(inventory([], trust=trust))
    compiles(text)
    assert f"# TODO: its trust policy admits AWS arn:aws:iam::{ACCOUNT}:root" in text
    assert re.search(f'^role llm_inference +"{ROLE}"$', text, re.M)  # a line: no block


def test_a_service_held_to_the_confused_deputy_keys_is_a_service_way():
    """Conditions on aws:SourceAccount / aws:SourceArn (which the spec pins itself) keep the
    service a way to obtain the role, with a TODO quoting them; any other key does not."""
    pinned = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
                             "Action": "sts:AssumeRole", "Condition": {
                                 "StringEquals": {"aws:SourceAccount": ACCOUNT},
                                 "ArnLike": {"aws:SourceArn":
                                             f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-import-job/*"}}}]}
    text = spec_text(inventory([], trust=pinned))
    compiles(text)
    assert "assumed_by service bedrock" in text
    assert (f"today its trust holds the service to aws:SourceAccount StringEquals {ACCOUNT}; aws:SourceArn "
            f"ArnLike arn:aws:bedrock:{REGION}:{ACCOUNT}:model-import-job/*; the spec pins") in text
    other = {"Statement": [{**pinned["Statement"][0], "Condition": {"StringEquals": {"aws:PrincipalTag/x": "y"}}}]}
    text = spec_text(inventory([], trust=other))
    compiles(text)
    assert "assumed_by" not in text and "its trust policy admits Service bedrock.amazonaws.com" in text


def test_key_admins_come_from_the_key_policy():
    admin = f"arn:aws:iam::{ACCOUNT}:role/security-admin"
    inv = inventory([])
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "kms:*", "Resource": "*"},
                            {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"}]}
    inv = I.Inventory(inv.account, inv.partition, inv.regions, buckets=inv.buckets, roles=inv.roles,
                      keys=(I.Key(KEY, REGION, policy),))
    text = spec_text(inv)
    compiles(text)
    assert "admins [security_admin]" in text and "TODO-key-admin" not in text
    assert f'role security_admin "{admin}"' in text


def test_a_sagemaker_volume_key_is_declared_with_what_the_spec_cannot_say():
    """A key SageMaker encrypts volumes with is declared (the SCP admits only the spec's keys),
    and its TODO says that slpc's key policy would cut SageMaker off; a bucket's key does not get it."""
    volume = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/2b2c3d4e-1111-2222-3333-444455556666"
    inv = inventory([])
    inv = I.Inventory(inv.account, inv.partition, inv.regions, buckets=inv.buckets, roles=inv.roles,
                      keys=(I.Key(KEY, REGION, None, encrypts=(f"s3 bucket {BUCKET}",)),
                            I.Key(volume, REGION, None, encrypts=("sagemaker training job ft (volume)",))))
    text = spec_text(inv)
    compiles(text)
    blocks = {m.group(2): m.group(1) for m in re.finditer(r"((?:#.*\n)*)key \w+ \{\n  arn +\"([^\"]+)\"", text)}
    assert "sagemaker training job ft (volume) could no longer use it" in blocks[volume]
    assert "Encrypts sagemaker training job ft (volume)." in blocks[volume]
    assert "no longer" not in blocks[KEY] and f"Encrypts s3 bucket {BUCKET}." in blocks[KEY]


def test_bucket_admins_come_from_what_roles_may_do_today():
    """A role the bucket policy names with every bucket administration action is its admin;
    a workload role that can administer it too is named in a TODO, not drafted as an admin."""
    admin = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "s3:*",
                             "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}
    everything = [{"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{BUCKET}",
                                                                    f"arn:aws:s3:::{BUCKET}/*"]}]
    text = spec_text(inventory(everything, policy=policy))
    compiles(text)
    assert re.search(r"bucket acme_models \{[^}]*admins +\[platform_admin\]", text)
    assert f'role platform_admin "{admin}"' in text
    assert f"TODO: today {ROLE}, which run workloads, administer it too" in text
    without = spec_text(inventory(everything))
    assert "name its `admins`" in without and not re.search(r"bucket acme_models \{[^}]*admins", without)


def test_names_are_unique_and_valid_identifiers():
    from slpc.verify.live.draft import _Names
    names = _Names()
    assert [names(x) for x in ("acme-models", "acme_models", "9lives", "---")] == [
        "acme_models", "acme_models_2", "x_9lives", "asset"]


def test_keys_a_spec_cannot_write_become_placeholders():
    """An AWS managed key, and a key of another account, are not keys a spec declares."""
    other = "arn:aws:kms:eu-central-1:210987654321:key/1b2c3d4e-1111-2222-3333-444455556666"
    for key in (I.Key(KEY, REGION, None, managed_by_aws=True), I.Key(other, REGION, None)):
        inv = inventory([])
        inv = I.Inventory(inv.account, inv.partition, inv.regions, roles=inv.roles, keys=(key,),
                          buckets=(I.Bucket(BUCKET, REGION, "aws:kms", key.arn, None, ("a/",), "its name"),))
        text = spec_text(inv)
        compiles(text)
        assert key.arn not in text and "key/00000000-0000-0000-0000-000000000000" in text


def test_a_role_of_another_account_is_not_granted_a_sagemaker_endpoint():
    """SageMaker endpoints have no resource policy, so another account's role cannot invoke
    one whatever its own policy says (and a spec could not grant it: E407)."""
    other = "arn:aws:iam::210987654321:role/partner"
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/chat-prod"
    inv = I.Inventory(ACCOUNT, "aws", (REGION,), endpoints=(I.Endpoint("chat-prod", REGION, endpoint, ("m",)),),
                      roles=(I.Role(other, None, (("inline p", {"Statement": [
                          {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint*", "Resource": "*"}]}),),
                          ("sagemaker model m",)),))
    text = spec_text(inv)
    compiles(text)
    assert not [line for line in text.splitlines() if line.startswith("allow ")]
    assert f'role partner "{other}"' in text


def test_a_network_without_both_ecr_endpoints_does_not_carry_a_repository_grant():
    """A spec's network reaches a repository only with ecr.api and ecr.dkr (E403): a pull
    held through a VPC with one of them is drafted from the placeholder network."""
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/llm-serving"
    stmts = [{"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                            "ecr:BatchCheckLayerAvailability", "ecr:GetAuthorizationToken"],
              "Resource": "*"}]
    nets = (I.Network("vpc-0a1b2c3d4e5f67890", REGION, (("ecr.api", "vpce-01a2b3c4d5e6f7a81", "interface"),),
                      ("subnet-0a1b2c3d4e5f67890",)),)
    inv = inventory(stmts, networks=nets)
    inv = I.Inventory(inv.account, inv.partition, inv.regions, roles=inv.roles, networks=nets,
                      repositories=(I.Repository("llm-serving", REGION, repo),))
    text = spec_text(inv)
    compiles(text)
    assert "allow llm_inference pull llm_serving from todo_network" in text


def test_a_draft_of_two_regions_says_each_block_s_region():
    west = "eu-west-1"
    nets = tuple(I.Network(f"vpc-0a1b2c3d4e5f6789{i}", r, (("s3", f"vpce-01a2b3c4d5e6f7a8{i}", "gateway"),
                                                              ("ecr.api", f"vpce-01a2b3c4d5e6f7b8{i}", "interface"),
                                                              ("ecr.dkr", f"vpce-01a2b3c4d5e6f7c8{i}", "interface")),
                           (f"subnet-0a1b2c3d4e5f6789{i}",)) for i, r in enumerate((REGION, west)))
    stmts = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    base = inventory(stmts)
    inv = I.Inventory(ACCOUNT, "aws", (REGION, west), roles=base.roles, networks=nets, keys=base.keys,
                      buckets=base.buckets + (I.Bucket("acme-west", west, "AES256", None, None, ("m/",), "its name"),),
                      repositories=(I.Repository("llm-serving", west,
                                                 f"arn:aws:ecr:{west}:{ACCOUNT}:repository/llm-serving"),))
    text = spec_text(inv)
    compiles(text)
    assert f'region "{west}"' in text and 'key/00000000-0000-0000-0000-000000000000' in text
    assert re.search(r"allow llm_inference +push +llm_serving +from vpc_0a1b2c3d4e5f67891", text)
    assert re.search(r'allow llm_inference +read +acme_west "m/" +from vpc_0a1b2c3d4e5f67891', text)


def test_an_answer_without_its_documented_fields_is_a_problem_not_a_crash():
    from slpc.verify.live.discover import Discovery

    class Broken:  # DescribeModel answers without the fields AWS documents
        region = REGION

        def pages(self, *a, **k):
            from slpc.verify.live.fetch import Read
            return Read([{"ModelName": "m"}] if a[1] == "list_models" else [])

        def call(self, *a, **k):
            from slpc.verify.live.fetch import Read
            return Read({"PrimaryContainer": "not a dict"} if a[1] == "describe_model" else {"Arn": "arn:aws:sts::x"})

        def bucket_policy(self, name):
            raise AssertionError("no bucket is listed")

    inv = Discovery(Broken(), ACCOUNT, (REGION,)).run()
    assert inv.workloads == () and [p.resource for p in inv.problems] == ["m"]
    assert inv.problems[0].message.startswith("malformed answer from AWS (")


DRAFT = '''# Drafted by `slpc import` from account 123456789012 (eu-central-1).
# Review every TODO: the grants are what the found roles hold today, narrowed to the
# prefixes where their model data is; anything wider is left out on purpose.
deployment "imported-123456789012" {
  account "123456789012"
  regions ["eu-central-1"]
}

# The VPC of the workloads in subnets subnet-0a1b2c3d4e5f67890.
network vpc_0a1b2c3d4e5f67890 {
  vpc "vpc-0a1b2c3d4e5f67890"
  endpoint s3 "vpce-01a2b3c4d5e6f7a80"
  subnets ["subnet-0a1b2c3d4e5f67890"]
}

# Runs sagemaker model chat.
# TODO: add `passed_by ROLE to sagemaker` for who may hand it over, and `admins`.
role llm_inference "arn:aws:iam::123456789012:role/llm-inference" {
  assumed_by service sagemaker
}

# Administers assets below today (their policies name it). TODO: say who may
# obtain it (docs/language.md, role); its trust and policies were not read.
role security_admin "arn:aws:iam::123456789012:role/security-admin"

key key_1b2c3d4e {
  arn    "arn:aws:kms:eu-central-1:123456789012:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [security_admin]
}

# Found: its name. Model data under a/.
# TODO: no role but the workloads' administers it today: name its `admins`.
bucket acme_models {
  name    "acme-models"
  encrypt key_1b2c3d4e
}

allow llm_inference read acme_models "a/" from vpc_0a1b2c3d4e5f67890  # TODO: adds kms:Decrypt (not held today); held today on the whole bucket and from outside these networks
'''


def test_the_draft_of_a_small_account():
    """The whole text of one draft: the layout a reviewer reads."""
    stmts = [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
              "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]
    nets = (I.Network("vpc-0a1b2c3d4e5f67890", REGION, (("s3", "vpce-01a2b3c4d5e6f7a80", "gateway"),),
                      ("subnet-0a1b2c3d4e5f67890",)),)
    admin = f"arn:aws:iam::{ACCOUNT}:role/security-admin"
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "kms:*", "Resource": "*"}]}
    base = inventory(stmts, networks=nets)
    inv = I.Inventory(ACCOUNT, "aws", (REGION,), buckets=base.buckets, roles=base.roles, networks=nets,
                      keys=(I.Key(KEY, REGION, policy),))
    assert spec_text(inv) == DRAFT
    compiles(DRAFT)


def test_the_summary_counts_the_groups_validate_leaves_out():
    """A count finding (five shown, N more) stands for N accesses wider than the draft."""
    from slpc.app.commands.import_ import text
    from slpc.verify.live.findings import DRIFT, Finding
    inv = inventory([])
    extra = [Finding(DRIFT, "s3/a.json", BUCKET, "x", code="extra-access", request={}),
             Finding(DRIFT, "s3/a.json", BUCKET, "... and 3 more", code="extra-access", not_shown=3)]
    assert "4 access(es) wider today than the draft" in text(inv, [], [], extra, "d.slp", 0)


KEY_POLICIES = {  # how the bucket's key policy lets a role use it, and whether it alone does
    "root": ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
              "Resource": "*"}, "iam"),
    "role": ({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
              "Resource": "*"}, True),
    "role via s3": ({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*",
                     "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}}, True),
    "role via ec2": ({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*",
                      "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"}}}, False),
    "other account": ({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                       "Action": "kms:*", "Resource": "*"}, False),
}
IDENTITY_KMS = {  # the role's own kms:Decrypt, and whether it holds when S3 calls KMS for it
    "none": ([], False),
    "decrypt": ([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}], True),
    # S3 calls KMS itself: the request has no aws:SourceVpce, so this Allow never applies
    "decrypt from vpce": ([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
                            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}}], False),
}


@pytest.mark.property
@PROPERTY
@given(st.sampled_from(sorted(KEY_POLICIES)), st.sampled_from(sorted(IDENTITY_KMS)), st.booleans())
def test_the_kms_side_of_read_is_asked_of_the_bucket_s_key_as_s3_asks_it(key_form, identity_form, aws_managed):
    """`read` lacks kms:Decrypt exactly when neither the key policy alone, nor its delegation
    to IAM with the role's own Allow, lets S3 decrypt for the role; an AWS managed key is not
    asked (its policy is not the account's)."""
    statement, alone = KEY_POLICIES[key_form]
    kms, mine = IDENTITY_KMS[identity_form]
    through = {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}  # S3 only through the endpoint
    s3 = [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Condition": through,
           "Resource": f"arn:aws:s3:::{BUCKET}/*"},
          {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}", "Condition": through}]
    net = I.Network("vpc-0a1b2c3d4e5f67890", REGION, (("s3", "vpce-0123456789abcdef0", "gateway"),),
                    ("subnet-0a1b2c3d4e5f67890",))  # the endpoint the role's S3 requests come through
    base = inventory(s3 + kms)
    inv = I.Inventory(ACCOUNT, "aws", (REGION,), buckets=base.buckets, roles=base.roles, networks=(net,), keys=(
        I.Key(KEY, REGION, {"Version": "2012-10-17", "Statement": [statement]}, managed_by_aws=aws_managed),))
    accesses, _, _, _ = current_access(inv)
    (read,) = [a for a in accesses if a.verb == "read"]
    if aws_managed:
        assert "kms:Decrypt" not in read.asked and read.lacks == ()
    else:
        held = alone is True or (alone == "iam" and mine)
        assert "kms:Decrypt" in read.asked and (read.lacks == ()) == held


@pytest.mark.parametrize("bucket_key", [False, True])
def test_the_kms_side_names_the_encryption_context_s3_sends(bucket_key):
    """A key policy that holds S3 to the bucket's encryption context (S3 Bucket Keys) lets the
    role decrypt exactly when the bucket uses Bucket Keys; one on the objects, exactly when not."""
    s3 = [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
           "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]
    for context, held in ((f"arn:aws:s3:::{BUCKET}", bucket_key), (f"arn:aws:s3:::{BUCKET}/*", not bucket_key)):
        policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt",
                                 "Resource": "*", "Condition": {
                                     "StringLike": {"kms:EncryptionContext:aws:s3:arn": context}}}]}
        base = inventory(s3)
        inv = I.Inventory(ACCOUNT, "aws", (REGION,), roles=base.roles, keys=(I.Key(KEY, REGION, policy),),
                          buckets=(I.Bucket(BUCKET, REGION, "aws:kms", KEY, None, ("a/",), "its name",
                                            bucket_key=bucket_key),))
        (read,) = [a for a in current_access(inv)[0] if a.verb == "read"]
        assert ("kms:Decrypt" not in read.lacks) == held, (context, bucket_key)


conditioned = st.builds(  # ListBucket held under some prefixes only, by an s3:prefix condition
    lambda p, op: {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
                   "Condition": {op: {"s3:prefix": f"{p}*" if op == "StringLike" else p}}},
    st.sampled_from(GRANT_PREFIXES), st.sampled_from(["StringLike", "StringEquals"]))


@pytest.mark.property
@PROPERTY
@given(statements, st.lists(conditioned, max_size=2), statements,
       st.sampled_from([("a/",), ("", "b/"), ("a/", "c/")]))
def test_the_shortcuts_change_no_answer(identity, listing, bucket, prefixes):
    """Skipping a prefix no Allow names, leaving s3:prefix out when no document names it,
    and keeping answers: what each role holds is what the evaluator finds asking every
    question in full."""
    from slpc.verify.live import current_access as CA
    policy = {"Statement": [{**x, "Principal": {"AWS": ROLE}} for x in bucket]} if bucket else None
    inv = inventory(identity + listing, prefixes=prefixes, policy=policy)
    fast = current_access(inv)[0]

    class Slow(CA.Today):
        def __init__(self, inv):
            super().__init__(inv)
            self.prefix_named = True

        def _may_allow(self, *_):
            return True

        def allowed(self, principal, action, resource, context, extra=()):
            return self.dep.decide(principal, action, resource, context, extra_identity=extra,
                                   resource_account=self.inv.account).allowed
    original = CA.Today
    CA.Today = Slow
    try:
        slow = current_access(inv)[0]
    finally:
        CA.Today = original
    assert fast == slow
    # and ListBucket under each prefix is what the s3:prefix conditions say
    today = CA.Today(inv)
    plain = any("s3:ListBucket" in x["Action"] and not x["Resource"].endswith("*") for x in identity + bucket)
    for prefix in GRANT_PREFIXES:
        named = any(prefix.startswith(x["Condition"]["StringLike"]["s3:prefix"][:-1]) if "StringLike" in x["Condition"]
                    else prefix == x["Condition"]["StringEquals"]["s3:prefix"] for x in listing)
        held = "s3:ListBucket" in today.holds(ROLE, "bucket", BUCKET, "list", prefix, {})
        assert held == (plain or (named and prefix != "")), prefix


def test_the_benchmark_s_shared_buckets_draft_compiles():
    """benchmarks/bench_import.py's account: each team's role is granted its own prefix of
    every shared bucket, and the EKS roles, asked under every prefix, only their own."""
    from benchmarks.bench_import import BUCKETS, inventory as shared
    text = spec_text(shared(10))
    compiles(text)
    spec = parse(text, "draft.slp").spec
    granted = {(a.principal.text, a.prefix.value) for a in spec.declarations if isinstance(a, ast.Allow)}
    assert granted == {(f"team_{t:04d}_{kind}", f"team-{t:04d}/") for t in range(10)
                       for kind in ("trainer",) + (("serving",) if t % 5 == 0 else ())}
    assert len([d for d in spec.declarations if isinstance(d, ast.Bucket)]) == BUCKETS


def test_pod_identity_held_to_conditions_today_says_so():
    """The draft admits each Pod Identity association found; a condition today's trust adds
    (here a namespace tag) may admit fewer of them, so a TODO quotes it."""
    cluster = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/chat"
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                            "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "chat"}}}]}
    base = inventory([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}],
                     trust=trust)
    pods = I.Workload(I.EKS_POD, "chat/chat/web", REGION, roles=(ROLE,), identity=(cluster, "chat", "web"))
    inv = I.Inventory(ACCOUNT, "aws", (REGION,), workloads=(pods,), buckets=base.buckets, keys=base.keys,
                      roles=(I.Role(ROLE, trust, base.roles[0].policies, ("eks pod identity chat/chat/web",)),))
    text = spec_text(inv)
    compiles(text)
    assert f'assumed_by eks_pod "{cluster}" namespace "chat" service_account "web"' in text
    assert ("today its trust holds EKS Pod Identity to aws:RequestTag/kubernetes-namespace StringEquals chat"
            in text)
