"""The compile's fast paths agree with the slow paths they replace.

Each speed-up of the 10,000-grant compile (benchmarks/RESULTS.md) skips work the
slow path did; these tests run both on the same input and compare.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from importlib import import_module, resources
from itertools import product
from pathlib import Path
from unittest import mock

from hypothesis import example, given, strategies as st
from lark import Lark

from benchmarks.synthetic import deployment
from slpc.app import pipeline
from slpc.dsl import syntax
from slpc.targets import grants
from slpc.targets.artifact import Artifact
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement, dumps, pretty, to_json
from slpc.policy.limits import RULES, count
from slpc.verify.catalogue import Catalogue
from slpc.verify.lint.registry import covers
from slpc.policy.matching import has_wildcard, wildcard_match
from test_lexer import Continuations
from test_optimize import docs

optimize = import_module("slpc.targets.optimize")  # the module: slpc.targets exports a function of that name

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.slp"))


# --------------------------------------------------------------------------- #
# Parser: spans from first/last tokens instead of lark's propagated positions


class _PropagatedSpans(syntax._Builder):
    """The slow path: spans from lark's `propagate_positions` metadata, on lark's own lexer."""

    def tree_span(self, tree):
        m = tree.meta
        return syntax.Span(self.file, m.line + self.offset, m.column, m.end_line + self.offset, m.end_column)


def _slow_parse(text: str) -> list[syntax.Stmt]:
    grammar = resources.files("slpc.dsl").joinpath("grammar.lark").read_text("utf-8")
    parser = Lark(grammar, parser="lalr", lexer="basic", postlex=Continuations(),
                  propagate_positions=True, maybe_placeholders=False)
    builder = _PropagatedSpans("f", 0, [])
    return [builder.stmt(c) for c in parser.parse(text).children if isinstance(c, syntax.Tree)]


def _spans(stmts) -> list:
    """Every statement, argument and list item with its span (Stmt/Tok equality ignores spans)."""
    out = []
    for s in stmts:
        out.append((s.keyword, s.keyword.span, s.span))
        for a in s.args:
            out.append((a, a.span, [(i, i.span) for i in a.items]))
        out.append(_spans(s.block or ()))
    return out


def _agrees(text: str) -> None:
    fast = syntax.parse_syntax(text, "f")
    assert not fast.diagnostics
    assert _spans(fast.statements) == _spans(_slow_parse(text))


def test_spans_agree_on_examples_and_synthetic():
    for path in EXAMPLES:
        _agrees(path.read_text("utf-8"))
    _agrees(deployment(100))


_names = st.from_regex(r"[a-z_][a-z0-9_\-]{0,5}(\.[a-z0-9]{1,3})?", fullmatch=True)
_strings = st.text(st.sampled_from('ab "\\/é'), max_size=6).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
_items = st.one_of(_names, _strings, st.integers(0, 999).map(str))
_lists = st.tuples(st.lists(_items, max_size=4), st.sampled_from([", ", ",\n  ", " ,"]), st.booleans()).map(
    lambda t: "[" + t[1].join(t[0]) + ("," if t[2] and t[0] else "") + "]")


@st.composite
def _statements(draw, depth: int = 0) -> str:
    args = draw(st.lists(st.one_of(_items, _lists, st.just(",")), max_size=4))
    head = " ".join([draw(_names), *args])
    if depth < 2 and draw(st.booleans()):
        body = draw(st.lists(_statements(depth + 1), max_size=3))
        head += " {" + "".join(f"\n  {b}  # note" for b in body) + "\n}"
    return head


@given(st.lists(_statements(), min_size=1, max_size=4))
def test_spans_agree_on_generated_text(stmts):
    _agrees("\n\n".join(stmts) + "\n")


# --------------------------------------------------------------------------- #
# Size: IAM's no-whitespace count by str.split instead of re.sub(r"\s")

_NO_WS = RULES["iam-managed-policy"]


def _slow_count(text: str) -> int:
    return len(re.sub(r"\s", "", text))


def test_no_whitespace_count_agrees_on_every_character():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert count(_NO_WS, every) == _slow_count(every)
    assert count(_NO_WS, every[::-1] + " x \n") == _slow_count(every[::-1] + " x \n")


@given(st.text())
def test_no_whitespace_count_agrees(text):
    assert count(_NO_WS, text) == _slow_count(text)


# --------------------------------------------------------------------------- #
# Lint: `prefix*` covering by a prefix test instead of a compiled regex

_glob = st.text(st.sampled_from("ab*?/kKK\u212as\u017f\n"), max_size=6)


@given(_glob, _glob, st.booleans())
def test_covers_agrees_with_wildcard_match(pattern, value, ignore_case):
    assert covers(pattern, value, ignore_case) == wildcard_match(pattern, value, ignore_case=ignore_case)


@given(_glob.filter(lambda p: not has_wildcard(p)), _glob, st.booleans())
@example("s", "\u017f", True).via("regex ignoring case: s matches the long s")
@example("k", "\u212a", True).via("and k the Kelvin sign")
@example("ab", "AB", True).via("ASCII ignoring case")
def test_covers_agrees_on_prefix_patterns(head, value, ignore_case):
    for pattern in (head + "*", head):
        assert covers(pattern, value, ignore_case) == wildcard_match(pattern, value, ignore_case=ignore_case)
        assert covers(pattern, head + value, ignore_case) == wildcard_match(pattern, head + value, ignore_case=ignore_case)


# --------------------------------------------------------------------------- #
# Artifact text: the C encoder per value instead of json.dumps's indenting encoder

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(_json, st.booleans())
def test_pretty_is_json_dumps_indented(value, ascii):
    assert pretty(value, ascii) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ascii) + "\n"


_texts = st.lists(st.text(max_size=6), max_size=3)
_principals = st.none() | st.just(Principal.any()) | st.builds(
    Principal, entries=st.lists(st.tuples(st.sampled_from(("AWS", "Service", "Federated")), _texts.map(tuple)),
                                max_size=3).map(tuple))
_policy_statements = st.builds(
    Statement, effect=st.sampled_from(("Allow", "Deny")), actions=_texts.map(tuple), resources=_texts.map(tuple),
    conditions=st.lists(st.builds(Condition, st.sampled_from(("Bool", "StringLike")), st.sampled_from(("a", "b")),
                                  _texts.map(tuple)), max_size=3).map(tuple),
    sid=st.none() | st.text(max_size=4), principal=_principals, not_principal=_principals,
    not_actions=_texts.map(tuple), not_resources=_texts.map(tuple))


@given(st.builds(PolicyDocument, st.lists(_policy_statements, max_size=3).map(tuple),
                 version=st.none() | st.just("2012-10-17"), id=st.none() | st.text(max_size=4)))
def test_a_document_is_written_as_its_json_indented(doc):
    """dumps writes a document from its fields; it must be the generic printer's text of
    to_json (repeated principal kinds and condition keys included: the later one wins)."""
    assert dumps(doc) == pretty(to_json(doc))


@given(_policy_statements)
def test_a_cached_hash_is_the_hash_of_equal_values_and_never_pickled(s):
    """Statements, conditions and principals keep their hash once computed; an equal
    value built anew must hash the same, and a pickle (another process, another string
    hash seed) must not carry the cached number."""
    import pickle
    hash(s)
    again = replace(s)
    assert again == s and hash(again) == hash(s)
    assert "_hash" in s.__dict__ and "_hash" not in pickle.loads(pickle.dumps(s)).__dict__


# --------------------------------------------------------------------------- #
# Catalogue: ARNs of one shape share their resource types

_ARNS = ("arn:aws:s3:::b", "arn:aws:s3:::b/k", "arn:aws:s3:eu-west-1:111122223333:accesspoint/ap/object/k",
         "arn:aws:s3:eu-west-1:111122223333:job/j", "arn:aws:S3:::b", "arn:aws:s*:::b",
         "arn:aws:ecr:eu-west-1:111122223333:repository/r", "arn:aws:kms:eu-west-1:111122223333:key/k",
         "arn:aws:nope:::x", "arn:aws:s3")


_PATTERNS = ("s3:GetObject", "s3:ListBucket", "s3:*", "ecr:BatchGetImage", "kms:Decrypt", "sts:GetCallerIdentity")


def _one_character_away():
    for base in _ARNS:
        for at in range(len(base)):
            for char in "abjkoy379-:/*?${}é\0":
                arn = base[:at] + char + base[at + 1:]
                yield arn
                yield arn + "*"


def test_resource_types_by_shape_agree_with_each_arn():
    """One catalogue answers every ARN one character away from a few real ones (many
    of one shape: letters and digits of the formats, of none, policy syntax) as the
    search on each ARN does."""
    cat = Catalogue()
    for arn in _one_character_away():
        assert cat.resource_types_for_arn(arn) == cat._resource_types_for_arn(arn), arn


def test_fitting_some_format_by_shape_agrees_with_each_resource_type():
    """RESOURCE_MISMATCH's question, each action pattern's formats asked once per ARN
    shape, answered as each resource type of each action answers it."""
    cat = Catalogue()
    for pattern in _PATTERNS:
        actions = cat.expand(pattern)
        types = [cat.service(act.service).resource_types for act in actions]
        formats = cat.resource_formats(pattern)
        assert formats == {t[rt].arn for act, t in zip(actions, types) for rt in act.resource_types if rt in t}
        for arn in _one_character_away():
            slow = any(t[rt].fits(arn) for act, t in zip(actions, types) for rt in act.resource_types if rt in t)
            assert cat.fits_some(formats, arn) == slow, (pattern, arn)


# --------------------------------------------------------------------------- #
# Optimizer: a statement already normal is kept instead of rebuilt


def _slow_normalise(s):
    with mock.patch.object(optimize, "_is_normal", lambda s: False):
        return optimize.normalise(s)


_UNSORTED = Principal(entries=(("Service", ("s3.amazonaws.com",)), ("AWS", ("r2", "r1", "r1"))))


@given(docs(resource_policy=True))
@example(PolicyDocument((Statement("Deny", ("s3:*",), principal=_UNSORTED),
                         Statement("Deny", ("s3:*",), not_principal=_UNSORTED)))).via("principals out of order")
def test_normalise_keeps_only_normal_statements(doc):
    _normalise_agrees(doc.statements)


@given(st.lists(_policy_statements, max_size=4))
def test_normalise_keeps_only_normal_statements_of_any_shape(statements):
    """Repeated or unsorted values, principal kinds and conditions in every element."""
    _normalise_agrees(statements)


def _normalise_agrees(statements):
    for s in statements:
        slow = _slow_normalise(s)
        assert optimize.normalise(s) == slow
        assert optimize.normalise(slow) is slow


# --------------------------------------------------------------------------- #
# Sids: duplicates found by a tuple of the fields instead of a statement without Sid


@given(docs(resource_policy=True), st.lists(st.tuples(st.integers(0, 20), st.sampled_from([None, "A", "B"]))))
def test_unique_sids_by_content_agree(doc, copies):
    stmts = list(doc.statements)
    stmts += [replace(stmts[i % len(stmts)], sid=sid) for i, sid in copies]
    with mock.patch.object(grants, "_content", lambda s: replace(s, sid=None)):
        slow = grants.unique_sids(stmts)
    assert grants.unique_sids(stmts) == slow


# --------------------------------------------------------------------------- #
# Offline validation: a policy text written twice is linted once

_MISMATCH = Statement("Allow", ("s3:GetObject",), ("arn:aws:s3:::b",))  # a WARNING: the object action on a bucket
_BUCKET = Statement("Allow", ("s3:GetObject",), ("arn:aws:s3:::b/*",), principal=Principal.any())


def test_offline_validation_of_repeated_texts_agrees_with_each_alone():
    docs = [PolicyDocument((_MISMATCH,)), PolicyDocument((_BUCKET, _MISMATCH)), PolicyDocument((_BUCKET,))]
    arts = [Artifact(kind, f"t{i}", "111122223333", f"{kind}/{i}.json", "n", doc)
            for i, (kind, doc) in enumerate(product(("iam-identity-policy", "s3-bucket-policy"), docs * 2))]
    together = pipeline.offline_validate(arts)
    assert together == [d for a in arts for d in pipeline.offline_validate([a])]
    assert len({d.code for d in together}) == 2  # errors and warnings both
