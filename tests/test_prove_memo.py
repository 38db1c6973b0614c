"""A statement's terms are built once per asset part and shared by its callers.

`encode._applies_once` reuses a statement's term for every caller asked about
the same asset part (`solver.shared_request`). That is sound only if the memo's
key names everything the term depends on besides the request's variables: the
caller's fixed keys (`aws:PrincipalArn` ...), the resource term (the bucket behind
an access point is another). These tests build every situation of every target,
callers in an order unlike the properties', and check that each shared term is
the very term a build for that caller alone would make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slpc.app.pipeline import compile_text
from slpc.verify.prove import encode
from slpc.verify.prove.properties import _callers, _not_iam
from slpc.verify.prove.solver import Situation
from slpc.verify.prove.world import World

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=["sovereign_llm.slp", "shared_bucket.slp"])
def world(request):
    path = ROOT / "examples" / request.param
    compiled = compile_text(path.read_text(), str(path))
    assert compiled.ok
    return World.from_artifacts(compiled.model, compiled.artifacts)


def _documents(w: World, s: Situation):
    pol = w.applicable(s.caller.concrete, s.target, s.star, s.guardrails, s.caller.kind == "iam")
    yield from ((d, "identity") for d in pol.identity)
    yield from ((d, "scp") for d in pol.scps)
    yield from ((d, "rcp") for d in pol.rcps)
    yield from ((d, "endpoint") for d in pol.endpoints.values())
    if pol.resource is not None:
        yield pol.resource, "resource"


def _same_as_alone(s: Situation, doc, kind: str) -> bool:
    for st in doc.statements:
        shared = encode._applies_once(s.ctx, st, kind, s.actions, doc.version)
        alone = encode._applies(s.ctx, st, kind, s.actions, doc.version)
        if (shared is None) != (alone is None) or (shared is not None and not shared.eq(alone)):
            return False
    return True


def test_shared_statement_terms_are_each_callers_own(world):
    checked = 0
    for t in world.targets:
        whos = list(reversed(_callers(world, t) + _not_iam(world, t)))
        situations = [Situation(world, t, who, star, guardrails)
                      for who in whos for star in (True, False) for guardrails in (False, True)]
        for s in situations:  # after all were built: each reads terms another caller may have made
            for doc, kind in _documents(world, s):
                assert _same_as_alone(s, doc, kind), (t.label, s.who, s.star, kind)
                checked += 1
            bucket = world.bucket_policy(t)
            if bucket is not None:  # the bucket's half of an access point request, on the bucket's ARN
                saved = s.ctx.resource, s.ctx.scope
                s.ctx.resource = s.ctx.memo("behind", lambda: t.behind(s.ctx.request.resource))
                s.ctx.scope = (t.asset.arn, t.objects)
                try:
                    assert _same_as_alone(s, bucket, "resource"), (t.label, s.who, "behind")
                finally:
                    s.ctx.resource, s.ctx.scope = saved
        world.requests.clear()
    assert checked > 100


def test_a_term_depending_on_the_caller_is_not_shared(world):
    """Two callers that fix `aws:PrincipalArn` differently get different keys for the same statement."""
    t = next(t for t in world.targets if world.has_resource_policy(t) and len(world.related(t)) >= 2)
    a, b = (Situation(world, t, who, True, False) for who in world.related(t)[:2])
    assert a.ctx.request is b.ctx.request
    assert a.ctx.known["aws:principalarn"] != b.ctx.known["aws:principalarn"]
    keys = {k for k in a.ctx.request.memo if isinstance(k, tuple) and k[0] == "applies"}
    fixed = {k[-1] for k in keys}
    assert any(a.ctx.known["aws:principalarn"] in f for f in fixed)
    assert any(b.ctx.known["aws:principalarn"] in f for f in fixed)
    world.requests.clear()
