"""`invoke` grants scoped to routes of an API Gateway stage ("METHOD /path").

The route definition (`compiler.routes`) against IAM's own wildcard matching, the
compiled identity and resource policies, one test per bad input class, and the
prover on a spec with scoped grants. The evaluator and the meaning on generated
routes are compared in test_differential.py (strategies.ROUTES).
"""

from __future__ import annotations

import json
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import EXAMPLE, ROUTES_SPEC
from slpc.app.pipeline import compile_text
from slpc.compiler import routes
from slpc.policy.document import PolicyDocument, Statement
from slpc.policy.matching import wildcard_match
from slpc.verify.deployment import Deployment
from slpc.verify.prove.properties import PROVED, prove
from slpc.verify.prove.world import World
from strategies import PROPERTY
from test_diagnostics import caret_under, located, run

STAR = PolicyDocument((Statement("Allow", actions=("*",), resources=("*",)),))
STAGE = "arn:aws:execute-api:eu-central-1:111122223333:a1b2c3d4e5/prod"
SEGMENTS = ("v1", "chat", "chatx", "x")

methods = st.sampled_from(routes.METHODS)
paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map(lambda s: "/" + "/".join(s))


@st.composite
def route_texts(draw) -> str:
    method = draw(st.sampled_from(routes.METHODS + (routes.ANY,)))
    if draw(st.integers(0, 5)) == 0:
        return routes.canonical(f"{method} /*")
    return routes.canonical(f"{method} {draw(paths)}{'/*' if draw(st.booleans()) else ''}")


@st.composite
def requests(draw) -> str:
    """A request's `METHOD/path`, sometimes with a trailing `/` or none at all."""
    tail = draw(st.sampled_from(("", "", "/", "/deeper")))
    return f"{draw(methods)}{draw(paths) if draw(st.integers(0, 6)) else ''}{tail}"


@PROPERTY
@given(route_texts(), requests())
def test_the_arn_patterns_cover_exactly_the_route(text, request):
    """What IAM matches against the compiled ARNs is what the meaning says the route covers."""
    assert routes.problem(text or "ANY /*") is None
    matched = any(wildcard_match(p, f"{STAGE}/{request}") for p in routes.patterns(STAGE, text))
    assert matched == routes.covers(text, request)


@PROPERTY
@given(route_texts(), route_texts(), st.lists(requests(), max_size=30))
def test_containment_and_overlap_agree_with_coverage(a, b, sample):
    probes = sample + [s.rstrip("*") + tail for s, _ in routes.matches(a) + routes.matches(b) for tail in ("", "x")]
    if routes.contains(a, b):
        assert all(routes.covers(a, r) for r in probes if routes.covers(b, r))
    shared = any(routes.covers(a, r) and routes.covers(b, r) for r in probes)
    assert not shared or routes.overlap(a, b)  # overlap is never missed
    if routes.overlap(a, b):  # and never claimed without a witness among the routes' own starts
        assert shared or any(routes.covers(b, r) for r in probes if routes.covers(a, r))


def test_routes_read_and_print_canonically():
    assert routes.canonical("ANY /*") == ""
    assert routes.canonical("POST /v1/chat/*") == "POST /v1/chat/*"
    assert routes.patterns(STAGE, "POST /v1/chat") == (f"{STAGE}/POST/v1/chat",)
    assert routes.patterns(STAGE, "POST /v1/chat/*") == (f"{STAGE}/POST/v1/chat", f"{STAGE}/POST/v1/chat/*")
    assert routes.patterns(STAGE, "GET /*") == (f"{STAGE}/GET/*",)
    # ANY names each method: a `*` in its place would also match GET/x/v1/chat
    assert len(routes.patterns(STAGE, "ANY /v1/chat")) == len(routes.METHODS)
    assert not routes.covers("ANY /v1/chat", "GET/x/v1/chat")
    assert not routes.covers("POST /v1/chat", "POST/v1/chat/x")  # an exact path is that path alone


@pytest.fixture(scope="module")
def compiled():
    c = compile_text(ROUTES_SPEC, "routes.slp")
    assert c.ok, [d.message for d in c.diagnostics]
    return c


def _doc(compiled, path: str) -> dict:
    return json.loads(next(a for a in compiled.artifacts if a.path == path).text)


def test_identity_policies_name_the_exact_arns(compiled):
    app = _doc(compiled, "iam/111122223333/app.json")["Statement"]
    assert sorted(r for s in app for r in s["Resource"]) == sorted([
        f"{STAGE}/POST/v1/chat", f"{STAGE}/GET/v1/models", f"{STAGE}/GET/v1/models/*",
        "arn:aws:execute-api:eu-central-1:111122223333:a1b2c3d4e5/dev/*"])


def test_the_resource_policy_limits_each_grantee_to_its_routes(compiled):
    stmts = _doc(compiled, "apigateway/a1b2c3d4e5.json")["Statement"]
    limits = {s["Sid"]: s["NotResource"] for s in stmts if "NotResource" in s}
    partner = next(v for k, v in limits.items() if "Partner" in k)
    # its routes, and the API's other stage (which its own statements govern)
    assert sorted(partner) == sorted([f"{STAGE}/POST/v1/chat", "arn:aws:execute-api:eu-central-1:111122223333:"
                                      "a1b2c3d4e5/dev/*"] + [f"{STAGE}/{m}/v1/status" for m in routes.METHODS])


@pytest.mark.parametrize("route, allowed", [
    ("POST/v1/chat", True), ("POST/v1/chatx", False), ("POST/v1/chat/x", False), ("GET/v1/chat", False),
    ("GET/v1/models", True), ("GET/v1/models/a/b", True), ("GET/v1/modelsx", False), ("POST/v1/models/a", False),
])
def test_a_grantee_invokes_only_its_routes(compiled, route, allowed):
    d = Deployment.from_artifacts(compiled.artifacts)
    decision = d.decide("arn:aws:iam::111122223333:role/app", "execute-api:Invoke", f"{STAGE}/{route}",
                        {"aws:SourceVpce": "vpce-00000000000000005"})
    assert decision.allowed == allowed, decision.explain()


def test_prove_proves_every_claim_on_scoped_grants(compiled):
    results = prove(World.from_artifacts(compiled.model, compiled.artifacts), timeout_ms=20_000)
    assert results and all(r.verdict == PROVED for r in results), [(r.prop.number, r.verdict) for r in results]


# -- bad inputs ----------------------------------------------------------------
API = ROUTES_SPEC
LINE = API.splitlines().index('allow app     invoke assistant     "POST /v1/chat"      from vpc') + 1


@pytest.mark.parametrize("code, route, words", [
    ("E340", "post /v1/chat", "did you mean `POST`?"),
    ("E340", "CONNECT /v1/chat", "methods: DELETE, GET"),
    ("E341", "POST v1/chat", "must start with `/`"),
    ("E342", "POST /v1/{id}", "write `/*` in its place"),
    ("E342", "POST /v1/chat/", "cannot end in `/`"),
    ("E342", "POST /", "root path alone"),
    ("E343", "POST /v1/*/chat", "trailing `/*`"),
    ("E343", "POST /v1/chat*", "trailing `/*`"),
])
def test_bad_route_is_diagnosed(tmp_path, capsys, code, route, words):
    text = API.replace('"POST /v1/chat"      from vpc', f'"{route}" from vpc', 1)
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and f"error[{code}]" in err, err
    col = text.splitlines()[LINE - 1].index(f'"{route}"') + 1
    assert located(err, path, LINE, col) and caret_under(err, f'"{route}"'), err
    assert words in err, err


@pytest.mark.parametrize("extra", [
    'allow partner invoke assistant "POST /v1/*" from vpc',  # contains its POST /v1/chat from partner_vpc
    'allow partner invoke assistant "ANY /v1/chat" from partner_vpc',  # overlaps it, no expiry
    'allow partner invoke assistant from vpc until "2030-01-01T00:00:00Z"',  # the whole stage
])
def test_overlapping_routes_with_different_networks_or_expiry_are_refused(tmp_path, capsys, extra):
    text = API + extra + "\n"
    rc, err, _, path = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E344]" in err, err
    assert located(err, path, len(text.splitlines()), 1), err


def test_disjoint_routes_may_differ_in_networks(tmp_path, capsys):
    text = API.replace('"ANY /v1/status"     from vpc', '"POST /v1/chatx"     from vpc')  # next to POST /v1/chat
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 0, err


@pytest.mark.parametrize("old, new, under", [
    ("allow chat_frontend invoke chat                   from prod_vpc",
     'allow chat_frontend invoke chat "POST /v1/chat"   from prod_vpc', '"POST /v1/chat"'),  # SageMaker
    ('pull   serving  ', 'pull   serving "GET /v2/x" ', '"GET /v2/x"'),  # a repository
])
def test_a_route_on_other_assets_is_refused(tmp_path, capsys, old, new, under):
    text = EXAMPLE.read_text().replace(old, new)
    rc, err, _, _ = run(tmp_path, capsys, text)
    assert rc == 2 and "error[E402]" in err and caret_under(err, under), err


# -- slpc diff -------------------------------------------------------------------
def _changes(old: str, new: str):
    from slpc.compiler.diff import diff_models
    models = [compile_text(t, "spec.slp", emit=False).model for t in (old, new)]
    return diff_models(*models)


@pytest.mark.parametrize("new, effect", [
    ('"POST /v1/chat/*"', "widens"), ('"ANY /v1/chat"', "widens"), ('"POST /v1/*"', "widens"),
    ('"POST /v1/chatx"', "narrows"), ("", "widens"),
])
def test_a_changed_route_is_a_widening_or_a_narrowing(new, effect):
    old_line = 'allow app     invoke assistant     "POST /v1/chat"      from vpc'
    cs = _changes(API, API.replace(old_line, f"allow app invoke assistant {new} from vpc"))
    assert effect in {c.effect for c in cs}, [(c.kind, c.effect, c.description) for c in cs]
    if effect == "widens":
        assert all(c.effect != "narrows" for c in cs), [(c.kind, c.effect) for c in cs]


def test_the_report_confirms_each_scoped_grant_on_its_route(compiled):
    from slpc.report.evidence import access_matrix
    cells = access_matrix(compiled.model, "2029-01-01T00:00:00Z")
    assert cells and all(c["meaning_confirms"] for c in cells), cells
    assert {g["prefix"] for c in cells for g in c["grants"]} >= {"POST /v1/chat", "GET /v1/models/*"}


def test_shared_stage_routes_are_written_once_and_still_exact():
    """Teams sharing one stage, each with its own `ANY` subtrees: each route's ARNs appear
    once in the API's policy (in the grantee's `NotResource` deny; its Allow names the
    stage), so four such grants fit the 8,192 characters, and each team still reaches only
    its own routes, through its network only, as the meaning says."""
    roles = "".join(f'role t{i} "arn:aws:iam::111122223333:role/team-{i}"\n' for i in range(2))
    grants = "".join(f'allow t{i} invoke api "ANY /v{j}/team{i}/*" from vpc\n' for i in range(2) for j in range(2))
    spec = ('deployment "d" {\n  account "111122223333"\n  regions ["eu-central-1"]\n}\n'
            'network vpc {\n  endpoint execute-api "vpce-01a2b3c4d5e6f7a80"\n}\n'
            'network other {\n  endpoint execute-api "vpce-01a2b3c4d5e6f7a81"\n}\n'
            + roles + 'endpoint api {\n  apigateway "a1b2c3d4e5"\n  stage "prod"\n}\n' + grants)
    compiled = compile_text(spec, "teams.slp")
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    text = next(a.text for a in compiled.artifacts if a.kind == "apigateway-resource-policy")
    for i, j, m in ((i, j, m) for i in range(2) for j in range(2) for m in routes.METHODS):
        assert text.count(f'"{STAGE}/{m}/v{j}/team{i}/*"') == 1, (i, j, m)
    from slpc.verify.meaning import Meaning, Question
    world, meaning = Deployment.from_artifacts(compiled.artifacts), Meaning(compiled.model)
    for who, path, vpce in product(range(2), ("v0/team0/x", "v1/team1/y", "v2/team0/z"),
                                   ("vpce-01a2b3c4d5e6f7a80", "vpce-01a2b3c4d5e6f7a81")):
        q = Question(f"arn:aws:iam::111122223333:role/team-{who}", "execute-api:Invoke", f"{STAGE}/POST/{path}",
                     {"aws:SourceVpce": vpce}, star=True)
        expected = vpce.endswith("80") and path.split("/")[1] == f"team{who}" and path[:2] in ("v0", "v1")
        assert meaning.permits(q) is expected, q
        decision = world.decide(q.principal, q.action, q.resource, q.context, extra_identity=(STAR,))
        assert decision.allowed is expected, (q, decision.explain())
