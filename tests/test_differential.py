"""Differential properties: AWS evaluation of the compiled policies == the spec's meaning.

For generated deployments and requests biased toward the edges (declared and
foreign endpoints, near-miss prefixes, expiry instants, cross-account and `*:*`
principals, anonymous and AWS-service callers, wrong encryption headers), the
evaluator run on the artifacts must give exactly the answer computed from the
Model: no extra access (soundness) and no missing access (the grants work).
A failure prints the spec and the request, ready to become a regression test.
"""

from itertools import product

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slpc.compiler import routes
from slpc.compiler import verbs as V
from slpc.app.pipeline import compile_text
from slpc.dsl import format_spec
from slpc.policy.document import PolicyDocument, Statement
from slpc.policy.limits import RULES
from slpc.targets import endpoints, key
from slpc.verify.deployment import Deployment
from slpc.verify.edges import FOREIGN_VPCE, sse_contexts
from slpc.verify.edges import questions as edge_questions
from slpc.verify.meaning import Meaning, Question
from strategies import EXAMPLES, MAIN_ACCOUNT, OTHER_ACCOUNT, PREFIXES, PROPERTY, specs

pytestmark = pytest.mark.property

STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
IPS = ("198.51.100.7", "203.0.113.9", "192.0.2.200", "192.0.2.5", "8.8.8.8")
TIMES = ("2026-11-28T12:00:00Z", "2030-12-31T23:59:59Z", "2031-01-01T00:00:00Z",
         "2032-06-30T12:00:00Z", "2040-01-01T00:00:00Z")
KEYS_UNDER = tuple(p + "x" for p in PREFIXES) + ("released-old/x", "releasedx", "released", "checkpoints/deep/x",
                                                  "datax/y", "rr")
LIST_PREFIXES = (None, "", "released/", "released/v2/a", "releasedx", "checkpoints/", "data/1", "r", "x")
OBJECT_LEVEL = set(V.S3_OBJECT_DATA_ACTIONS) | {V.S3_BYPASS_GOVERNANCE, "s3:PutObjectAcl", "s3:PutObjectVersionAcl",
                                                "s3:PutObjectRetention"}
S3_ACTIONS = sorted(set(V.S3_OBJECT_DATA_ACTIONS + V.S3_BUCKET_DATA_ACTIONS + V.S3_PERIMETER_ACTIONS
                        + V.S3_ADMIN_ACTIONS + V.S3_BREAKGLASS_ACTIONS) | {"s3:GetBucketCors", "s3:PutObjectRetention"})
KMS_ACTIONS = sorted(set(V.KMS_CRYPTO_ACTIONS + V.KMS_ADMIN_ACTIONS) | {"kms:ReplicateKey"})
ECR_ACTIONS = sorted(set(V.ECR_IMAGE_ACTIONS + V.ECR_PERIMETER_ACTIONS + V.ECR_ADMIN_ACTIONS) | {"ecr:DescribeImages"})
DATA_ACTIONS = set(V.S3_OBJECT_DATA_ACTIONS + V.S3_BUCKET_DATA_ACTIONS)
# Requests on API stages: on the drawn routes (strategies.ROUTES), next to them and under them.
API_ROUTES = ("POST/v1/chat", "GET/v1/chat", "POST/v1/chatx", "POST/v1/chat/x", "POST/v1/chat/", "GET/v1",
              "GET/v1/models/a", "PUT/v1/chat", "DELETE/v1/chatx", "DELETE/v1/chat", "GET/", "GET/x",
              "PUT/v2/x", "OPTIONS/v1/chat", "POST/x/v1/chat", "GET/chat", "POST/v1/complete")
SM_ACTIONS = sorted(set(V.VERBS[("endpoint", "invoke")].actions_with(V.ENDPOINT)) | {"sagemaker:DescribeEndpoint"})


def rogue_access_point(bucket) -> str:
    """An access point on the bucket that the spec does not declare."""
    return f"arn:aws:s3:{bucket.region}:{bucket.account}:accesspoint/made-by-an-admin"


def _network(draw, vpces):
    kind = draw(st.sampled_from(("vpce", "vpce", "ip", "none")))
    if kind == "vpce":
        return {"aws:SourceVpce": draw(st.sampled_from(vpces + [FOREIGN_VPCE]))}
    if kind == "ip":
        return {"aws:SourceIp": draw(st.sampled_from(IPS))}
    return {}


@st.composite
def questions(draw, model):
    roles = sorted(p.arn for p in model.principals.values())
    principal = draw(st.sampled_from(roles * 3 + [
        f"arn:aws:iam::{MAIN_ACCOUNT}:role/Administrator", f"arn:aws:iam::{OTHER_ACCOUNT}:role/Outsider",
        f"arn:aws:iam::{MAIN_ACCOUNT}:root", None, "s3.amazonaws.com"]))
    vpces = sorted(v for n in model.networks.values() for _, v in n.endpoints)
    ctx = {"aws:CurrentTime": draw(st.sampled_from(TIMES))}
    if principal == "s3.amazonaws.com":
        ctx["aws:PrincipalIsAWSService"] = "true"
    elif draw(st.integers(0, 9)) == 0:
        ctx["aws:ViaAWSService"] = "true"
    targets = ["bucket"] * 3 + ["key"] * 2 + ["token"]
    targets += ["repository"] * 2 if model.assets_of("repository") else []
    targets += ["endpoint"] if model.assets_of("endpoint") else []
    targets += ["api"] * 2 if model.assets_of("api") else []
    target = draw(st.sampled_from(targets))
    if target == "bucket":
        bucket = draw(st.sampled_from(model.assets_of("bucket")))
        action = draw(st.sampled_from(S3_ACTIONS))
        aps = sorted(model.access_points(bucket.name).values(), key=lambda ap: ap.arn)
        owner = None
        if aps and draw(st.integers(0, 3)):  # through one of the bucket's access points, or one it was not given
            if draw(st.integers(0, 4)) == 0:
                via, action = rogue_access_point(bucket), draw(st.sampled_from(sorted(DATA_ACTIONS)))
            else:
                ap = draw(st.sampled_from(aps))
                via = ap.arn
                if draw(st.integers(0, 3)):  # mostly its own grantee, doing what its grants name
                    owner = ap.principal
                    principal = model.principals[ap.principal].arn
                    ctx.pop("aws:PrincipalIsAWSService", None)  # a role now, not the service drawn above
                    own = sorted({a for g in model.grants_of(ap.principal) if g.asset == bucket.name
                                  for a, sc in V.VERBS[("bucket", g.verb)].actions if sc != V.KEY_VIA_S3})
                    action = draw(st.sampled_from(own or sorted(V.S3_BREAKGLASS_ACTIONS)))
            key = draw(st.sampled_from(KEYS_UNDER))
            resource = f"{via}/object/{key}" if action in OBJECT_LEVEL else via
        else:
            resource = f"{bucket.arn}/{draw(st.sampled_from(KEYS_UNDER))}" if action in OBJECT_LEVEL else bucket.arn
        ctx.update(_network(draw, vpces))
        ctx["aws:SecureTransport"] = draw(st.sampled_from(("true", "true", "true", "false")))
        ctx["s3:TlsVersion"] = draw(st.sampled_from(("1.3", "1.2", "1.0")))
        if draw(st.integers(0, 4)) == 0:
            ctx["s3:signatureAge"] = draw(st.sampled_from(("120", "899999", "900001", "86400000")))
        if action in ("s3:PutObject", "s3:PutObjectRetention") and draw(st.booleans()):
            ctx["s3:object-lock-remaining-retention-days"] = draw(st.sampled_from(("1", "365", "366", "4000")))
        if action == "s3:ListBucket" and (p := draw(st.sampled_from(LIST_PREFIXES))) is not None:
            ctx["s3:prefix"] = p
        if action == "s3:PutObject":
            ctx.update(draw(st.sampled_from(sse_contexts(model, bucket))))
        if owner is not None and draw(st.integers(0, 3)):  # mostly from where and when its grants hold
            g = draw(st.sampled_from([g for g in model.grants_of(owner) if g.asset == bucket.name] or [None]))
            if g is not None:
                for k in ("aws:SourceVpce", "aws:SourceIp"):
                    ctx.pop(k, None)
                net = model.networks[draw(st.sampled_from(g.networks))]
                ids = net.endpoint_ids(("s3",))
                ctx.update({"aws:SourceVpce": ids[0]} if ids else {"aws:SourceIp": net.cidrs[0].split("/")[0]})
                ctx |= {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
    elif target == "key":
        key = draw(st.sampled_from(sorted(model.keys.values(), key=lambda k: k.name)))
        action = draw(st.sampled_from(KMS_ACTIONS))
        resource = key.arn
        region = draw(st.sampled_from((key.region, "eu-west-3", None)))
        if region:
            ctx["kms:ViaService"] = f"s3.{region}.amazonaws.com"
        acct = (principal or "").split(":")[4] if (principal or "").startswith("arn:") else MAIN_ACCOUNT
        ctx["kms:CallerAccount"] = draw(st.sampled_from((acct, acct, "999988887777")))
        buckets = [a.arn for a in model.assets_of("bucket")]
        ctx["kms:EncryptionContext:aws:s3:arn"] = draw(st.sampled_from(
            buckets + [f"{b}/{k}" for b in buckets for k in KEYS_UNDER] + ["arn:aws:s3:::elsewhere/x"] * len(buckets)))
        if action == "kms:PutKeyPolicy" and draw(st.booleans()):
            ctx["kms:BypassPolicyLockoutSafetyCheck"] = "true"
    elif target == "repository":
        repo = draw(st.sampled_from(model.assets_of("repository")))
        action, resource = draw(st.sampled_from(ECR_ACTIONS)), repo.arn
        ctx.update(_network(draw, vpces))
    elif target == "token":
        action, resource = "ecr:GetAuthorizationToken", "*"
        ctx.update(_network(draw, vpces))
    elif target == "api":
        api = draw(st.sampled_from(model.assets_of("api")))
        action = draw(st.sampled_from(("execute-api:Invoke", "execute-api:Invoke", "execute-api:ManageConnections")))
        resource = f"{api.arn}/{draw(st.sampled_from(API_ROUTES))}"
        grants = [g for g in model.grants if g.asset == api.name]
        if grants and draw(st.integers(0, 2)):  # mostly a grantee, from one of its grant's networks
            g = draw(st.sampled_from(grants))
            principal = model.principals[g.principal].arn
            if g.until and draw(st.booleans()):
                ctx["aws:CurrentTime"] = TIMES[0]  # before every expiry drawn
            if draw(st.booleans()):  # on its route, or just past it
                start, whole = draw(st.sampled_from(routes.matches(g.prefix)))
                resource = f"{api.arn}/{start}{draw(st.sampled_from(('', 'x', '/x') if whole else ('', 'x', 'x/y')))}"
            ctx.pop("aws:PrincipalIsAWSService", None)
            ids = model.networks[draw(st.sampled_from(g.networks))].endpoint_ids(("execute-api",))
            ctx.update({"aws:SourceVpce": ids[0]} if ids else _network(draw, vpces))
        else:
            ctx.update(_network(draw, vpces))
    else:
        ep = draw(st.sampled_from(model.assets_of("endpoint")))
        action, resource = draw(st.sampled_from(SM_ACTIONS)), ep.arn
        ctx.update(_network(draw, vpces))
    return Question(principal, action, resource, ctx, star=draw(st.booleans()))


@PROPERTY
@given(specs(), st.data())
def test_compiled_policies_mean_exactly_the_spec(spec, data):
    _agrees_with_the_meaning(spec, data)


@PROPERTY
@given(specs(api_extras=True), st.data())
def test_api_backends_and_cognito_stages_mean_exactly_the_spec(spec, data):
    """API stages that call the SageMaker endpoint as an integration role (the SCP admits it
    there alone) or admit a Cognito pool's users from some networks (policies that name no
    principal): the deployment still means exactly the spec."""
    _agrees_with_the_meaning(spec, data)


@PROPERTY
@given(specs(access_points=True, max_grants=8), st.data())
def test_buckets_reached_through_access_points_mean_exactly_the_spec(spec, data):
    """Buckets reached through access points: a grantee through its own access point gets
    exactly its grants; through another grantee's, one the spec does not declare, or
    directly on the bucket, no data at all; everything else as on a direct bucket."""
    _agrees_with_the_meaning(spec, data)


@PROPERTY
@given(specs(), st.data())
def test_account_wide_forms_are_exact_with_the_resource_policies(spec, data):
    """The forms S3 and ECR endpoint policies (W351, and for S3 drawn: buckets by name
    pattern, W356) and key policies (W352) take when naming every grantee does not
    fit, forced everywhere: together with the bucket and repository policies, the
    deployment still means exactly the spec, on every request that can occur (S3 uses
    a key for a caller only on a request it has authorized)."""
    E = endpoints
    patterns = data.draw(st.booleans(), label="S3 buckets by pattern")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "FORMS", {"s3": (E.EXACT, E.ACCOUNTS) + ((E.PATTERNS,) if patterns else ()),
                                "ecr.api": (E.EXACT, E.ACCOUNTS), "ecr.dkr": (E.EXACT, E.ACCOUNTS)})
        for module in (endpoints, key):
            mp.setattr(module, "measure", lambda kind, doc: RULES[kind].limit + 1)
        _agrees_with_the_meaning(spec, data, account_wide=True)


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None)
@given(specs())
def test_account_wide_keys_are_exact_on_every_key_use_that_can_occur(spec):
    """Every key use, swept rather than drawn: each principal (and an account admin and an
    outsider, all holding `*:*`), each crypto action, through S3 of the key's region or
    not, for each of the spec's buckets and prefixes and a bucket outside the spec, before
    and after every expiry. On the key policies in their account-wide form (W352), AWS
    decides as the spec says on every use that can occur."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(key, "measure", lambda kind, doc: RULES[kind].limit + 1)
        compiled = compile_text(format_spec(spec), "gen.slp")
    assume(compiled.ok and any(a.coarser for a in compiled.artifacts if a.kind == "kms-key-policy"))
    world, meaning, m = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model), compiled.model
    who = sorted(p.arn for p in m.principals.values()) + [f"arn:aws:iam::{MAIN_ACCOUNT}:role/Administrator",
                                                         f"arn:aws:iam::{OTHER_ACCOUNT}:role/Outsider"]
    buckets = [a.arn for a in m.assets_of("bucket")]
    contexts = buckets + [f"{b}/{k}" for b in buckets for k in KEYS_UNDER] + ["arn:aws:s3:::elsewhere/x"]
    for k, principal, action, via, arn, now in product(
            sorted(m.keys.values(), key=lambda k: k.name), who, ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"),
            (True, False), contexts, (TIMES[0], TIMES[-1])):
        ctx = {"aws:CurrentTime": now, "kms:CallerAccount": principal.split(":")[4],
               "kms:EncryptionContext:aws:s3:arn": arn}
        if via:
            ctx["kms:ViaService"] = f"s3.{k.region}.amazonaws.com"
        q = Question(principal, action, k.arn, ctx, True)
        if not _occurs(m, meaning, q):
            continue
        decision = world.decide(principal, action, k.arn, ctx, extra_identity=(STAR,))
        assert decision.allowed == meaning.permits(q), (q, decision.explain())


def _occurs(model, meaning: Meaning, q) -> bool:
    """False for a key use through S3 for one of the key's buckets that the spec does not
    permit: S3 would have refused the request that makes it, so it never reaches KMS."""
    k = next((k for k in model.keys.values() if k.arn == q.resource), None)
    if k is None or q.context.get("kms:ViaService") != f"s3.{k.region}.amazonaws.com":
        return True
    arn = q.context.get("kms:EncryptionContext:aws:s3:arn")
    into = any(arn == a.arn or str(arn).startswith(a.arn + "/") for a in model.assets.values()
               if a.kind == "bucket" and a.key == k.name)
    return not into or meaning.permits(q)


def _agrees_with_the_meaning(spec, data, account_wide: bool = False):
    text = format_spec(spec)
    compiled = compile_text(text, "gen.slp")
    # A deployment whose policies exceed AWS's size limits even after optimizing and
    # splitting compiles to nothing (E501, E502); the property is about the policies
    # slpc does emit (with managed policies when a role's do not fit inline).
    assume(not any(d.code in ("E501", "E502") for d in compiled.diagnostics))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    if account_wide:
        wide = [a for a in compiled.artifacts if a.kind == "kms-key-policy" or (
            a.kind == "vpc-endpoint-policy" and a.name.split(".", 1)[1] in endpoints.ACCOUNT_WIDE_SERVICES)]
        assert all(a.coarser for a in wide if "ForTheGranteesAccounts" in a.text or "ToTheGranteesAccounts" in a.text)
        assume(any(a.coarser for a in wide))
    world = Deployment.from_artifacts(compiled.artifacts)
    for bucket in compiled.model.assets_of("bucket"):
        if bucket.access_points == "always":
            world.attach_access_point(rogue_access_point(bucket), bucket.arn)
    meaning = Meaning(compiled.model)
    for i in range(25):
        q = data.draw(questions(compiled.model), label=f"request {i}")
        if account_wide and not _occurs(compiled.model, meaning, q):
            continue
        decision = world.decide(q.principal, q.action, q.resource, q.context, extra_identity=(STAR,) if q.star else ())
        expected = meaning.permits(q)
        assert decision.allowed == expected, (
            f"\n{text}\nrequest: {q}\nAWS evaluation: {decision.explain()}\nspec says: "
            f"{'allow' if expected else 'deny'}")


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None)
@given(specs(access_points=True, max_grants=8, duty_grants=True))
def test_every_edge_through_access_points_means_exactly_the_spec(spec):
    """Every edge request of the spec (slpc.verify.edges: each grant and duty where it
    holds and one step off each edge, by every role and outsiders), on buckets reached
    through access points asked directly, through the grantee's own access point and
    through another grantee's: AWS decides exactly as the spec says."""
    compiled = compile_text(format_spec(spec), "gen.slp")
    assume(not any(d.code in ("E501", "E502") for d in compiled.diagnostics))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assume(any(compiled.model.access_points(b.name) for b in compiled.model.assets_of("bucket")))
    world, meaning = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model)
    for q in edge_questions(compiled.model):
        decision = world.decide(q.principal, q.action, q.resource, q.context, extra_identity=(STAR,) if q.star else ())
        assert decision.allowed == meaning.permits(q), (
            f"\n{format_spec(spec)}\nrequest: {q}\nAWS evaluation: {decision.explain()}")


@PROPERTY
@given(specs(api_extras=True, max_grants=4))
def test_edge_requests_of_api_backends_and_cognito_stages_mean_exactly_the_spec(spec):
    """Every edge request (verify.edges) of a spec with integration roles and Cognito stages:
    the integration role on its backend with each invoke action, the pool's users from each
    network, and the grants' edges around them."""
    compiled = compile_text(format_spec(spec), "gen.slp")
    assume(not any(d.code in ("E501", "E502") for d in compiled.diagnostics))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    assume(any(a.backend or a.authorizer for a in compiled.model.assets_of("api")))
    world, meaning = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model)
    for q in edge_questions(compiled.model):
        decision = world.decide(q.principal, q.action, q.resource, q.context, extra_identity=(STAR,) if q.star else ())
        assert decision.allowed == meaning.permits(q), (
            f"\n{format_spec(spec)}\nrequest: {q}\nAWS evaluation: {decision.explain()}")


@PROPERTY
@given(specs(duty_grants=True))
def test_duties_hold_beside_the_duty_holders_own_grants(spec):
    """A bucket's breakglass role that also holds a grant there keeps its duty wherever
    and whenever the duty applies, and gets no more than duty and grant together:
    every breakglass action, on every kind of key, at every instant, from every network."""
    text = format_spec(spec)
    compiled = compile_text(text, "gen.slp")
    assume(not any(d.code in ("E501", "E502") for d in compiled.diagnostics))
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    model = compiled.model
    world = Deployment.from_artifacts(compiled.artifacts)
    meaning = Meaning(model)
    vpces = sorted(v for n in model.networks.values() for _, v in n.endpoints)
    networks = [{"aws:SourceVpce": v} for v in vpces] + [{"aws:SourceIp": ip} for ip in IPS]
    for bucket in model.assets_of("bucket"):
        for who in bucket.breakglass:
            arn = model.principals[who].arn
            for action, key, now, net, star in ((a, k, t, n, s) for a in sorted(set(V.S3_BREAKGLASS_ACTIONS) | {"s3:DeleteObject"})
                                                for k in KEYS_UNDER for t in TIMES for n in networks for s in (False, True)):
                ctx = {"aws:CurrentTime": now, "aws:SecureTransport": "true", "s3:TlsVersion": "1.3", **net}
                q = Question(arn, action, f"{bucket.arn}/{key}", ctx, star=star)
                decision = world.decide(q.principal, q.action, q.resource, q.context,
                                        extra_identity=(STAR,) if q.star else ())
                assert decision.allowed == meaning.permits(q), (
                    f"\n{text}\nrequest: {q}\nAWS evaluation: {decision.explain()}")
