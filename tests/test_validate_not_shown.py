"""Drift groups beyond the five shown per direction and policy are counted, not dropped
silently (pure: no AWS; the reads are a stand-in fetcher).

The expected counts are not taken from the code under test's own arithmetic: each
test builds a deployed policy with a known number of added grants, one group each,
and checks that against `compare` with no practical limit."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from slpc.app.commands import validate as command
from slpc.app.pipeline import compile_sources, read_sources
from slpc.policy.document import PolicyDocument, Principal, Statement, to_json
from slpc.verify.live.compare import EXTRA, MISSING, NotShown, compare, compare_counted
from slpc.verify.live.fetch import Read
from slpc.verify.live.findings import DRIFT
from slpc.verify.live.validate import Validator
from slpc.verify.live.wider import wider

from conftest import EXAMPLE

BUCKET = "arn:aws:s3:::b"
ACCOUNT = "111122223333"
READER = Statement("Allow", actions=("s3:GetObject",), resources=(BUCKET + "/*",),
                   principal=Principal.aws(f"arn:aws:iam::{ACCOUNT}:role/reader"), sid="Reader")
ALL = 1000  # a limit no test reaches: every group


def grants(n: int) -> tuple[Statement, ...]:
    """`n` Allows the spec does not have, each to another outside account: one extra-access group each."""
    return tuple(Statement("Allow", actions=("s3:GetObject",), resources=(BUCKET + "/*",),
                           principal=Principal.aws(f"arn:aws:iam::4444555566{i:02d}:root"), sid=f"Added{i}")
                 for i in range(n))


def bucket(deployed: tuple[Statement, ...], compiled: tuple[Statement, ...] = (READER,), limit: int = 5):
    return compare_counted(PolicyDocument(deployed), PolicyDocument(compiled), "s3-bucket-policy", BUCKET, ACCOUNT,
                           limit=limit)


def test_up_to_the_limit_every_group_is_shown_and_nothing_is_counted():
    for n in range(1, 6):
        found = bucket((READER,) + grants(n))
        assert [x.sids for x in found] == [(f"Added{i}",) for i in range(n)]
        assert not any(isinstance(x, NotShown) for x in found)


def test_beyond_the_limit_five_are_shown_and_the_rest_counted():
    for n in (6, 8, 13):
        deployed, compiled = PolicyDocument((READER,) + grants(n)), PolicyDocument((READER,))
        every = compare(deployed, compiled, "s3-bucket-policy", BUCKET, ACCOUNT, limit=ALL)
        assert len(every) == n and {x.direction for x in every} == {EXTRA}  # one group per added grant
        found = bucket((READER,) + grants(n))
        assert found[:5] == every[:5]
        assert found[5:] == [NotShown(EXTRA, n - 5)]
        assert compare(deployed, compiled, "s3-bucket-policy", BUCKET, ACCOUNT) == every[:5]


def test_the_count_message_names_the_direction_and_number():
    assert NotShown(EXTRA, 3).message == "... and 3 more groups of extra access on this policy not shown"
    assert NotShown(MISSING, 1).message == "... and 1 more group of missing access on this policy not shown"


def test_each_direction_is_counted_on_its_own_and_follows_its_drifts():
    """The spec's Reader is gone (one missing-access group) and seven grants were added."""
    found = bucket(grants(7))
    assert [x.direction for x in found] == [EXTRA] * 6 + [MISSING]
    assert found[5] == NotShown(EXTRA, 2) and found[6].sids == ("Reader",)
    assert bucket(grants(7), limit=ALL)[-1].sids == ("Reader",)  # nothing counted with room for all


# --------------------------------------------------------------------------- #
# Through `slpc validate`'s Validator, its text and JSON, and `slpc import`'s list


class OneBucket:
    """A fetcher whose one bucket has `policy` deployed."""

    def __init__(self, policy: PolicyDocument):
        self.policy = policy
        self.asked: list[str] = []

    def bucket_policy(self, name: str) -> Read:
        self.asked.append(name)
        return Read(to_json(self.policy))


@lru_cache(maxsize=1)
def weights():
    sources, _ = read_sources([str(EXAMPLE)])
    return next(a for a in compile_sources(sources).artifacts if a.path == "s3/weights.json")


# Object actions the example's bucket policy neither grants nor denies to anyone.
UNGUARDED = ("s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
             "s3:GetObjectLegalHold", "s3:GetObjectRetention", "s3:DeleteObjectTagging", "s3:GetObjectVersionTagging")


def added(art, n: int) -> PolicyDocument:
    """The compiled policy with `n` Allows, each of another action to another outside account on its objects."""
    return PolicyDocument(art.document.statements + tuple(
        replace(s, actions=(action,), resources=(art.target + "/*",)) for s, action in zip(grants(n), UNGUARDED)))


def run(n: int):
    art = weights()
    deployed = added(art, n)
    fetcher = OneBucket(deployed)
    report = Validator(fetcher).run([art])
    assert fetcher.asked == [art.target.split(":::", 1)[1]]
    every = compare(deployed, art.document, art.kind, art.target, art.account, limit=ALL)
    return art, report, every


def test_validate_reports_five_drifts_then_a_finding_that_counts_the_rest():
    art, report, every = run(8)
    extra = [x for x in every if x.direction == EXTRA]
    assert len(extra) >= 8  # at least one group per added grant
    findings = [f for f in report.findings if f.artifact == art.path]
    assert [f.code for f in findings] == [EXTRA] * 6
    assert all(f.request is not None and f.not_shown == 0 for f in findings[:5])
    note = findings[5]
    assert (note.kind, note.level, note.not_shown, note.request, note.sids) == (
        DRIFT, findings[0].level, len(extra) - 5, None, ())
    assert note.message == (f"s3-bucket-policy: ... and {len(extra) - 5} more groups of extra access on this "
                            f"policy not shown")
    assert not report.clean and report.status(art.path) == "drift" and art.path not in report.checked

    text = command.text(report)
    assert f"{art.path}: error extra-access (drift): {note.message}\n" in text
    assert "6 finding(s)" in text

    doc = json.loads(json.dumps(command.to_json(report, [art])))
    assert doc["in_sync"] is False
    shown = [f for f in doc["findings"] if f["artifact"] == art.path]
    assert [("not_shown" in f, "request" in f) for f in shown] == [(False, True)] * 5 + [(True, False)]
    assert shown[5] == {"kind": "drift", "artifact": art.path, "resource": art.target, "severity": "error",
                        "source": "drift", "sources": ["drift"], "code": "extra-access", "message": note.message,
                        "not_shown": len(extra) - 5}
    assert len(doc["counterexamples"]) == 5  # a count has no request of its own

    sarif = command.sarif(report)["runs"][0]["results"]
    assert [r["properties"].get("not_shown") for r in sarif] == [None] * 5 + [len(extra) - 5]


def test_validate_adds_nothing_when_the_drifts_fit():
    art, report, every = run(1)
    assert 0 < len(every) <= 5
    assert [f.request is not None for f in report.findings] == [True] * len(every)
    assert all(f.not_shown == 0 and "not_shown" not in f.to_json() for f in report.findings)
    assert "not shown" not in command.text(report)


def test_import_keeps_the_count_of_extra_access_left_out():
    art = weights()
    deployed = added(art, 8)
    every = [x for x in compare(deployed, art.document, art.kind, art.target, art.account, limit=ALL)
             if x.direction == EXTRA]
    found = wider(OneBucket(deployed), art.account, {}, None, [art])
    assert [f.not_shown for f in found] == [0] * 5 + [len(every) - 5]
    assert found[-1].message.endswith(f"... and {len(every) - 5} more groups of extra access on this policy not shown")
