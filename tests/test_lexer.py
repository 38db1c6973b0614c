"""slpc's lexer (`dsl.syntax._Lexer`) gives the tokens lark's own basic lexer gives for
the same grammar, with the continuation rule applied (a newline inside [...] or after a
comma continues the line), and fails on the same character of the same line."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedCharacters
from lark.lexer import LexerState
from lark.utils import TextSlice

from slpc.dsl import syntax
from strategies import PROPERTY

pytestmark = pytest.mark.property

_GRAMMAR = resources.files("slpc.dsl").joinpath("grammar.lark").read_text("utf-8")
_LARK = Lark(_GRAMMAR, parser="lalr", lexer="basic")  # the reference: lark's lexer, no continuations
_PIECES = ["bucket", "weights", "a.b-c_1", "42", '"x"', '"a\\"b"', '"\\u0041"', "{", "}", "[", "]", ",", " ", "\t",
           "\n", "\r\n", "# note", "\n\n", '"open', "@", "\r", "é", "\f"]


def _fields(tok):
    return (tok.type, tok.value, tok.start_pos, tok.line, tok.column, tok.end_line, tok.end_column, tok.end_pos)


class Continuations:
    """The continuation rule as a lark post-lexer (the reference; slpc's lexer builds it in):
    a newline inside [...], after a comma, `[` or another newline, or at the start, is dropped."""

    always_accept = ()

    def process(self, stream):
        depth, prev = 0, "_NL"
        for tok in stream:
            if tok.type == "_NL" and (depth > 0 or prev in ("_NL", "COMMA", "LSQB")):
                continue
            depth = depth + 1 if tok.type == "LSQB" else max(0, depth - 1) if tok.type == "RSQB" else depth
            prev = tok.type
            yield tok


def _reference(text: str) -> list[tuple]:
    """Lark's tokens with the continuation rule applied."""
    return [_fields(t) for t in Continuations().process(_LARK.lex(text))]


def _ours(text: str) -> list[tuple]:
    lexer = syntax._parser().parser.lexer  # the _Lexer lark built from the grammar's terminals
    return [_fields(t) for t in lexer.lex(LexerState(TextSlice.cast_from(text)), None)]


def _outcome(lex, text):
    try:
        return lex(text)
    except UnexpectedCharacters as exc:
        return ("error", exc.pos_in_stream, exc.line, exc.column)


@PROPERTY
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_the_lexer_gives_lark_s_tokens_with_continuations(text):
    assert _outcome(_ours, text) == _outcome(_reference, text)


def test_a_list_over_several_lines_and_a_trailing_comma_continue_the_statement():
    assert [t[0] for t in _ours('allow a read [\n  "x",\n  "y"\n]\nb,\nc\n')] == [
        "NAME", "NAME", "NAME", "LSQB", "STRING", "COMMA", "STRING", "RSQB", "_NL", "NAME", "COMMA", "NAME", "_NL"]
