"""`slpc import` against moto's server: an account built by hand (import_fixtures),
read strictly read-only, drafted into a spec that compiles."""

from __future__ import annotations

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

import import_fixtures as F  # noqa: E402
import live_fixtures as L  # noqa: E402
from test_validate_live import READ_ONLY_PREFIXES, Recorder, server  # noqa: E402,F401  (the moto server fixture)

from slpc.verify.live.discover import Discovery  # noqa: E402
from slpc.verify.live.fetch import Fetcher  # noqa: E402


@pytest.fixture
def account(server):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST")).read()
    return F.build(server)


def discover(acct, session=None, regions=(L.REGION,)):
    f = Fetcher(session or L.session(), region=L.REGION, endpoint_url=acct.url)
    return Discovery(f, f.caller_account(), regions).run()


def test_every_model_location_is_found(account):
    inv = discover(account)
    assert {(b.name, p) for b in inv.buckets for p in b.prefixes} == F.MODEL_LOCATIONS
    assert F.UNRELATED not in {b.name for b in inv.buckets}
    assert {r.name for r in inv.repositories} == {"llm-serving", "chat-frontend"}  # the images the workloads run
    assert {r.arn for r in inv.roles} == set(account.roles.values())
    assert [k.arn for k in inv.keys] == [account.key_arn]
    assert [(e.name, e.models) for e in inv.endpoints] == [("chat-prod", ("chat-v1",))]
    assert [(n.vpc, dict((s, i) for s, i, _ in n.endpoints)) for n in inv.networks] == [(account.vpc, account.vpces)]
    assert inv.problems == ()


def test_discovery_is_strictly_read_only(account):
    session = L.session()
    rec = Recorder(session)
    discover(account, session)
    assert {"ListBuckets", "ListObjectsV2", "ListModels", "DescribeModel", "DescribeTrainingJob",
            "DescribeEndpointConfig", "DescribeTaskDefinition", "DescribeRepositories", "GetKeyPolicy",
            "GetRolePolicy", "ListAttachedRolePolicies", "DescribeVpcEndpoints"} <= set(rec.ops)
    assert [op for op in rec.ops if not op.startswith(READ_ONLY_PREFIXES)] == []
