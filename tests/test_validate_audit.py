"""Audit settings compared structurally (pure): trail selectors, EventBridge patterns,
GuardDuty features. Reordering never differs; removing or adding anything does."""

from __future__ import annotations

import json
from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from slpc.app.pipeline import compile_sources, read_sources
from slpc.verify.live.detection import covers, feature_problems, from_basic, missing_selectors, pattern_diff

from conftest import EXAMPLE


@lru_cache(maxsize=1)
def audit_artifacts():
    sources, _ = read_sources([str(EXAMPLE)])
    return tuple(a for a in compile_sources(sources).artifacts if a.kind in (
        "eventbridge-rule", "cloudtrail-event-selectors", "guardduty-feature"))


def patterns():
    return [a.settings["EventPattern"] for a in audit_artifacts() if a.kind == "eventbridge-rule"]


def selectors():
    return next(a for a in audit_artifacts() if a.kind == "cloudtrail-event-selectors").settings[
        "AdvancedEventSelectors"]


def _shuffled(value, rnd):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        out = [_shuffled(v, rnd) for v in value]
        rnd.shuffle(out)
        return out
    return value


def _lists(value, path=()):
    """Paths of every non-empty list of scalars in a pattern."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _lists(v, path + (k,))
    elif isinstance(value, list):
        if value and all(not isinstance(v, (dict, list)) for v in value):
            yield path
        for i, v in enumerate(value):
            yield from _lists(v, path + (i,))


def _at(value, path):
    for p in path:
        value = value[p]
    return value


@settings(max_examples=50, deadline=None)
@given(i=st.integers(0, 5), rnd=st.randoms(use_true_random=False))
def test_reordered_pattern_is_equal_and_any_removed_or_added_value_is_named(i, rnd):
    pattern = patterns()[i % len(patterns())]
    assert pattern_diff(pattern, _shuffled(json.loads(json.dumps(pattern)), rnd)) == []
    paths = list(_lists(pattern))
    path = paths[rnd.randrange(len(paths))]
    changed = json.loads(json.dumps(pattern))
    values = _at(changed, path)
    gone = values.pop(rnd.randrange(len(values)))
    values.append("slpc-extra")
    diff = pattern_diff(pattern, changed)
    assert any("slpc-extra" in d and "extra" in d for d in diff), diff
    if gone not in values:
        assert any(json.dumps(gone) in d for d in diff), diff


def test_pattern_keys_missing_and_extra_are_named():
    pattern = patterns()[0]
    changed = {**{k: v for k, v in pattern.items() if k != "source"}, "account": ["1"]}
    assert pattern_diff(pattern, changed) == ["account is extra", "source is missing"]


@settings(max_examples=50, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_a_selector_covers_itself_reordered_and_not_a_narrower_one(rnd):
    for sel in selectors():
        assert covers(_shuffled(json.loads(json.dumps(sel)), rnd), sel)
        narrower = json.loads(json.dumps(sel))
        narrower["FieldSelectors"].append({"Field": "readOnly", "Equals": ["true"]})
        assert not covers(narrower, sel)
        fewer = json.loads(json.dumps(sel))  # one bucket prefix fewer: logs less
        prefixes = [fs["StartsWith"] for fs in fewer["FieldSelectors"] if len(fs.get("StartsWith", [])) > 1]
        if prefixes:
            prefixes[0].pop(rnd.randrange(len(prefixes[0])))
            assert not covers(fewer, sel) and covers(sel, fewer)


def test_wider_selector_covers_and_basic_selectors_translate():
    data = next(s for s in selectors() if "data" in s["Name"].lower())
    wider = {"FieldSelectors": [f for f in data["FieldSelectors"] if f["Field"] != "resources.ARN"]}
    assert covers(wider, data) and not covers(data, wider)
    prefixes = next(f["StartsWith"] for f in data["FieldSelectors"] if f["Field"] == "resources.ARN")
    basic = [{"ReadWriteType": "All", "IncludeManagementEvents": True,
              "DataResources": [{"Type": "AWS::S3::Object", "Values": prefixes}]}]
    network = [s["Name"] for s in selectors() if "NetworkActivity" in str(s)]  # basic selectors cannot log it
    assert network and missing_selectors(selectors(), [("trail", [], basic)]) == network
    write_only = [{**basic[0], "ReadWriteType": "WriteOnly"}]
    assert from_basic(write_only) == []
    assert missing_selectors(selectors(), [("trail", [], write_only)]) == [s["Name"] for s in selectors()]
    one_bucket = [{**basic[0], "DataResources": [{"Type": "AWS::S3::Object", "Values": prefixes[:1]}]}]
    assert sorted(missing_selectors(selectors(), [("trail", [], one_bucket)])) == sorted([data["Name"], *network])


def test_guardduty_features():
    want = next(a for a in audit_artifacts() if a.kind == "guardduty-feature").settings["Features"]
    on = {"Status": "ENABLED", "Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
                                            {"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}]}
    assert feature_problems(want, on) == []
    assert feature_problems(want, {"Status": "DISABLED", "Features": []}) == [
        "the detector is DISABLED", "feature S3_DATA_EVENTS is not configured, the spec says ENABLED"]
