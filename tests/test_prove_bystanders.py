"""Bystander endpoints: the queries leave out VPC endpoints where no claim can fail.

`solver.Situation` drops from the terms the spec's endpoints whose policies have
nothing for the asset part and through which the spec lets the caller nothing
(so a query does not list every endpoint of the deployment). That is sound only
because every claim's goal needs AWS to allow the request or the spec to permit
it; these tests hold that premise, the re-check of a model that lands on a
bystander, and the verdicts against the terms with every endpoint listed. The
premise on concrete requests (AWS denies, the spec refuses) is checked by
`test_prove_crosscheck.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import z3

from slpc.app.pipeline import compile_text
from slpc.verify.prove import solver
from slpc.verify.prove.properties import PROPERTIES, PROVED, prove
from slpc.verify.prove.solver import Query, Situation, run
from slpc.verify.prove.world import DATA, World

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import deployment  # noqa: E402


def _world(text: str, name: str) -> World:
    compiled = compile_text(text, name)
    assert compiled.ok
    return World.from_artifacts(compiled.model, compiled.artifacts)


@pytest.fixture(scope="module")
def teams():
    """Three teams, each with its own VPC endpoints: every other team's are bystanders."""
    return _world(deployment(60, seed=0), "teams.slp")


@pytest.fixture(scope="module")
def example():
    path = ROOT / "examples" / "sovereign_llm.slp"
    return _world(path.read_text(), str(path))


def test_the_teams_deployment_has_bystanders(teams):
    t = teams.targets[0]
    s = Situation(teams, t, None, True, False)
    assert s.bystanders and not s.bystanders & teams.open_endpoints(t)


@pytest.mark.parametrize("which", ["example", "teams"])
def test_every_goal_needs_an_allowed_or_a_permitted_request(which, request):
    world = request.getfixturevalue(which)
    checked = 0
    for t in world.targets:
        for prop in PROPERTIES:
            for asked in prop.queries(world, t):
                for q in getattr(asked, "halves", (asked,)):  # an Either's goal is one of its halves'
                    s = z3.Solver()
                    s.add(*q.facts, q.goal, z3.Not(q.allowed), z3.Not(q.s.permits))
                    assert s.check() == z3.unsat, (prop.name, q.label)
                    checked += 1
        world.situations.clear()
    assert checked > 100


def _bystander_goal(teams) -> Query:
    t = teams.targets[0]
    q = Query("through a bystander", teams, t, None, t.actions[DATA], star=True, guardrails=False)
    vpce = q.ctx.key("aws:SourceVpce").values[0]
    q.goal = z3.And(vpce.used, vpce.term == z3.StringVal(sorted(q.s.bystanders)[0]))
    return q


def test_a_model_on_a_bystander_is_asked_again_without_them(teams):
    assert run(_bystander_goal(teams), 10_000).verdict == PROVED


def test_without_the_second_question_that_model_would_be_taken(teams, monkeypatch):
    monkeypatch.setattr(Situation, "on_bystander", lambda self, model: False)
    assert run(_bystander_goal(teams), 10_000).verdict != PROVED


def test_verdicts_are_those_of_the_terms_with_every_endpoint(teams, monkeypatch):
    with_bystanders = [(o.query, o.verdict) for r in prove(teams) for o in r.outcomes]
    teams.situations.clear()
    monkeypatch.setattr(solver.Situation, "_bystanders", lambda self, pol: frozenset())
    every_endpoint = [(o.query, o.verdict) for r in prove(teams) for o in r.outcomes]
    teams.situations.clear()
    assert with_bystanders == every_endpoint
    assert {v for _, v in every_endpoint} == {PROVED}
