"""Equivalence asks each role without and with `*:*` as one query (`solver.Either`).

Its goal is the disjunction of the two queries' (each with its own facts), a fresh
`star` truth value naming the branch, so it must answer exactly as the two asked
apart: proved when both are, refuted when either is, with a counterexample that
is a real one of the query the model's `star` names. These tests compare the two
ways on the example and on every mutant of `test_prove_mutants.py`.
"""

from __future__ import annotations

import pytest

from slpc.verify.prove import properties
from slpc.verify.prove.properties import PROVED, REFUTED, prove
from slpc.verify.prove.solver import Either, Query, run
from slpc.verify.prove.world import World

from test_prove_mutants import MUTANTS, _confirm, example  # noqa: F401  (a fixture)

EQUIVALENCE = 6


def _apart(label, without, with_star):
    return [without, with_star]


def _claim6(world: World, monkeypatch, together: bool):
    with monkeypatch.context() as mp:
        if not together:
            mp.setattr(properties, "with_and_without_star", _apart)
        return prove(world, timeout_ms=20_000, numbers=[EQUIVALENCE])[0]


def test_roles_are_asked_once_for_both(example, monkeypatch):  # noqa: F811
    world = World.from_artifacts(example.model, example.artifacts)
    t = next(t for t in world.targets if world.related(t))
    queries = list(properties.equivalence(world, t))
    assert sum(isinstance(q, Either) for q in queries) == len(world.related(t))
    together, apart = _claim6(world, monkeypatch, True), _claim6(world, monkeypatch, False)
    assert together.verdict == apart.verdict == PROVED
    assert len(apart.outcomes) - len(together.outcomes) == sum(
        len(world.related(t)) for t in world.targets)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_mutant_gets_the_same_verdict_as_apart(example, monkeypatch, name):  # noqa: F811
    artifacts = MUTANTS[name](example.artifacts)
    world = World.from_artifacts(example.model, artifacts)
    together = _claim6(world, monkeypatch, True)
    apart = _claim6(world, monkeypatch, False)
    assert together.verdict == apart.verdict
    if together.verdict == REFUTED:
        o = together.counterexample
        _confirm(example, artifacts, o.counterexample)
        refuted_apart = {x.query for x in apart.outcomes if x.verdict == REFUTED}
        assert o.query in refuted_apart  # the label names the situation that fails
        star = o.query.split(" · ")[0].endswith("(*:*)") or o.query.startswith("outsider")
        assert o.counterexample.star == star


@pytest.mark.parametrize("star", [False, True])
def test_a_model_names_its_half(example, star):  # noqa: F811
    """Only one half can be satisfied: the answer names it, and its request holds `*:*` exactly
    when that half does (its replay agrees with the encoding: the request is one of that query's)."""
    world = World.from_artifacts(example.model, example.artifacts)
    t = next(t for t in world.targets if world.related(t) and t.actions["data"] and not t.kms)
    who = world.related(t)[0]
    halves = []
    for holds in (False, True):
        q = Query(f"{who}{' (*:*)' if holds else ''} · {t.label}", world, t, who, t.actions["data"], holds, False)
        q.goal = holds == star
        halves.append(q)
    out = run(Either("both", *halves), 10_000)
    assert out.verdict == REFUTED and out.query == halves[star].label and out.counterexample.star == star
