"""A key is proved part by part (`world.key_targets`): its administration, its use for each of
its buckets' objects, for each bucket itself, and for any other encryption context. The parts
must cover every request, and each part's symbolic constraint must admit exactly the contexts
it claims (the other-contexts part adds consequences of its constraint to help the solver; a
wrong one would cut real requests out of the proof, which these tests catch)."""

from pathlib import Path

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_text
from slpc.verify.prove.context import Context
from slpc.verify.prove.world import CONTEXT_KEY, DATA, LOCK, World
from benchmarks.platform import platform

pytestmark = pytest.mark.property


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sovereign_llm.slp"
# Another key's bucket whose name extends one of model_key's: its contexts are "other" for model_key.
ARCHIVE = """
key archive_key {
  arn    "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455557777"
  admins [security_admin]
}

bucket archive {
  name    "acme-llm-weights-archive"
  encrypt archive_key
  admins  [security_admin]
}

allow inference read archive "team-a/" from prod_vpc
"""


@pytest.fixture(scope="module", params=["example+archive", "platform"])
def world(request) -> World:
    text = EXAMPLE.read_text() + ARCHIVE if request.param == "example+archive" else platform(30)
    compiled = compile_text(text, "spec.slp")
    assert compiled.ok, [d.message for d in compiled.diagnostics if d.is_error]
    return World.from_artifacts(compiled.model, compiled.artifacts)


def _parts(world: World, key: str):
    return [t for t in world.targets if t.kms and t.asset.name == key]


def _contexts(world: World):
    buckets = sorted(a.arn for a in world.model.assets_of("bucket"))
    near = [b[:-1] for b in buckets] + [b + "x" for b in buckets] + [b + "-01" for b in buckets]
    heads = st.sampled_from(buckets + [b + "/" for b in buckets] + near + [p.rstrip("*") for p in world.context_values])
    return st.none() | heads | st.builds(lambda h, t: h + t, heads, st.text("ab/*-0team", max_size=12)) | st.text(max_size=8)


def _admits(world: World, part, value: str | None) -> bool:
    ctx = Context(world.types)
    facts = part.context.constrain(ctx, world.context_values)
    v = ctx.key(CONTEXT_KEY).values[0]
    solver = z3.Solver()
    solver.add(*facts, *([v.used, v.term == z3.StringVal(value)] if value is not None else [z3.Not(v.used)]))
    return solver.check() == z3.sat


def test_a_key_is_split_into_administration_and_one_part_per_context(world):
    key = sorted(world.model.keys)[-1]
    parts = _parts(world, key)
    buckets = [a.name for a in world.model.assets_of("bucket") if a.key == key]
    assert [t.label for t in parts] == [f"{key} key"] + [
        f"{key} key for {b} {what}" for b in buckets for what in ("objects", "bucket")] + [
        f"{key} key for other contexts"]
    assert parts[0].context is None and parts[0].actions[DATA] == () and parts[0].actions[LOCK]
    assert all(t.actions[DATA] and not t.actions[LOCK] for t in parts[1:])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_parts_of_a_key_cover_every_context_once_and_admit_exactly_theirs(world, data):
    value = data.draw(_contexts(world))
    for key in sorted(world.model.keys):
        use = [t for t in _parts(world, key) if t.context is not None]
        holding = [t for t in use if t.context.holds({CONTEXT_KEY: value} if value is not None else {})]
        assert len(holding) == 1, (key, value, [t.label for t in holding])
        for t in use:
            assert _admits(world, t, value) == (t in holding), (t.label, value)
