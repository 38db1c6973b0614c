"""Disagreements the differential properties found once, kept as permanent tests.

Each case compiles a small spec and checks one request three ways: the expected
answer, the spec's meaning, and AWS evaluation of the compiled policies.
"""

import pytest

from slpc.app.pipeline import compile_text
from slpc.policy.document import PolicyDocument, Statement
from slpc.verify.deployment import Deployment
from slpc.verify.meaning import Meaning, Question

STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
HEAD = '''deployment "d" {
  account "111122223333"
  regions ["eu-central-1"]
}
role r0 "arn:aws:iam::111122223333:role/r0"
role r3 "arn:aws:iam::111122223333:role/r3"
key k {
  arn    "arn:aws:kms:eu-central-1:111122223333:key/00000000-0000-0000-0000-000000000000"
  admins [r0]
}
'''
R3 = "arn:aws:iam::111122223333:role/r3"
R0 = "arn:aws:iam::111122223333:role/r0"

CASES = [
    # A grant's networks hold for calls made through AWS services too: the resource-wide
    # network deny exempts those, so the grantee's own deny must not be skipped.
    ("ecr-grant-through-a-service", HEAD + '''network office {
  cidr "198.51.100.0/24"
}
repository repo {
  name "llm/serving"
}
allow r3 pull repo from office
''', Question(R3, "ecr:BatchCheckLayerAvailability", "arn:aws:ecr:eu-central-1:111122223333:repository/llm/serving",
              {"aws:CurrentTime": "2026-11-28T12:00:00Z", "aws:ViaAWSService": "true"}, star=True), False),
    # Breakglass works from the bucket's networks; a bucket without grants has none.
    ("breakglass-on-a-bucket-without-grants", HEAD + '''network net0 {
  endpoint kms "vpce-00000000000000000"
  cidr "198.51.100.0/24"
}
bucket b {
  name       "model-bucket-0"
  encrypt    k
  breakglass [r0]
}
''', Question(R0, "s3:DeleteObjectVersion", "arn:aws:s3:::model-bucket-0/x",
              {"aws:CurrentTime": "2026-11-28T12:00:00Z", "aws:ViaAWSService": "true",
               "aws:SourceVpce": "vpce-00000000000000000", "aws:SecureTransport": "true"}), False),
    # Uploads without encryption headers (UploadPart never has them) take the default encryption.
    ("upload-part-without-headers", HEAD + '''network net0 {
  endpoint s3 "vpce-00000000000000000"
}
bucket b {
  name    "model-bucket-0"
  encrypt k
}
allow r3 write b "ckpt/" from net0
''', Question(R3, "s3:PutObject", "arn:aws:s3:::model-bucket-0/ckpt/part",
              {"aws:CurrentTime": "2026-11-28T12:00:00Z", "aws:SourceVpce": "vpce-00000000000000000",
               "aws:SecureTransport": "true"}), True),
    # A breakglass role's duty covers the whole bucket at any time, also inside the prefix
    # of a grant of its own that has expired (issue 15: the grant's deny used to cut it).
    ("breakglass-inside-its-own-expired-grant", HEAD + '''network vpn {
  cidr "198.51.100.0/24"
}
bucket b {
  name       "model-bucket-0"
  encrypt    k
  breakglass [r3]
}
allow r3 delete b "released/" from vpn until "2027-06-30T00:00:00Z"
''', Question(R3, "s3:DeleteObjectVersion", "arn:aws:s3:::model-bucket-0/released/x",
              {"aws:CurrentTime": "2028-01-01T00:00:00Z", "aws:SourceIp": "198.51.100.7",
               "aws:SecureTransport": "true"}), True),
]


@pytest.mark.parametrize("name,spec,question,expected", CASES, ids=[c[0] for c in CASES])
def test_regression(name, spec, question, expected):
    compiled = compile_text(spec, f"{name}.slp")
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    world = Deployment.from_artifacts(compiled.artifacts)
    decision = world.decide(question.principal, question.action, question.resource, question.context,
                            extra_identity=(STAR,) if question.star else ())
    assert Meaning(compiled.model).permits(question) is expected
    assert decision.allowed is expected, decision.explain()


def test_account_wide_s3_endpoint_names_the_holders_of_actions_no_bucket_policy_guards(monkeypatch):
    """In the account-wide S3 endpoint-policy form (W351), the bucket policy decides who.
    It does for data actions, which it denies to all but their grantees; GetBucketLocation
    (of `list`) it leaves to IAM. So the endpoint policy still names that action's holders:
    an account admin holding `*:*` without a grant gets nothing through the spec's
    endpoint, while the grantee keeps it."""
    from slpc.policy.limits import RULES
    from slpc.targets import endpoints

    spec = HEAD + '''network net0 {
  endpoint s3 "vpce-00000000000000000"
}
bucket b {
  name    "model-bucket-0"
  encrypt k
}
allow r3 list b "ckpt/" from net0
'''
    monkeypatch.setattr(endpoints, "measure", lambda kind, doc: RULES[kind].limit + 1)
    compiled = compile_text(spec, "account-wide.slp")
    assert compiled.ok and any(d.code == "W351" for d in compiled.diagnostics)
    world, meaning = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model)
    ctx = {"aws:CurrentTime": "2026-11-28T12:00:00Z", "aws:SourceVpce": "vpce-00000000000000000",
           "aws:SecureTransport": "true"}
    for who, star, expected in ((R0, True, False), (R3, False, True)):
        q = Question(who, "s3:GetBucketLocation", "arn:aws:s3:::model-bucket-0", ctx, star=star)
        assert meaning.permits(q) is expected
        decision = world.decide(q.principal, q.action, q.resource, q.context, extra_identity=(STAR,) if star else ())
        assert decision.allowed is expected, decision.explain()
