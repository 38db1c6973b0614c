"""Lark LALR parse of .slp text into generic statements (keyword, args, block).

The grammar is deliberately generic; shape.py gives each statement its meaning.
Keeping the grammar small makes syntax errors rare and precise (braces, brackets,
strings), and lets the shape checks report many mistakes in one run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Iterator

from lark import Lark, Token, Tree
from lark.lexer import Lexer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from slpc.diagnostics import Diagnostic, Span, error

MAX_ERRORS = 25


@dataclass(frozen=True)
class Tok:
    """One argument: a NAME, STRING (decoded), NUMBER, COMMA or LIST."""

    kind: str
    text: str
    span: Span = field(compare=False)
    items: tuple["Tok", ...] = ()


@dataclass(frozen=True)
class Stmt:
    keyword: Tok
    args: tuple[Tok, ...]
    block: tuple["Stmt", ...] | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span


@dataclass
class SyntaxResult:
    statements: list[Stmt]
    comments: list[Comment]
    diagnostics: list[Diagnostic]


class _Lexer(Lexer):
    """Every token of a text from one `re.finditer` over lark's own terminals (each a
    named group, in the order lark's lexer tries them), with the continuation rule
    built in: a newline inside [...] or after a comma continues the line. Lark's basic
    lexer matches token by token in Python, and a post-lexer is one more generator per
    token: this is a sixth of the parse of a 10,000-grant spec less, for the same
    tokens (tests/test_lexer.py compares them with lark's)."""

    __future_interface__ = 2  # lex(lexer_state, parser_state), as lark's own lexers

    def __init__(self, conf) -> None:
        terminals = sorted(conf.terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                          -len(t.pattern.value), t.name))
        groups = [f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals]
        self.pattern = re.compile("|".join(groups + ["(?P<_UNEXPECTED>.)"]), re.DOTALL)
        self.ignore = frozenset(conf.ignore)

    def lex(self, state, parser_state) -> Iterator[Token]:
        text = state.text  # lark 1.3 hands a TextSlice, earlier releases the text
        text, first, last = (text, 0, len(text)) if isinstance(text, str) else (text.text, text.start, text.end)
        line, line_start, depth, prev = 1, 0, 0, "_NL"  # "_NL": leading blank lines are swallowed
        for m in self.pattern.finditer(text, first, last):
            kind = m.lastgroup
            if kind in self.ignore:
                continue
            start, end = m.span()
            if kind == "_NL":
                column = start - line_start + 1
                line, line_start = line + 1, end
                if depth > 0 or prev in ("_NL", "COMMA", "LSQB"):
                    continue
                yield Token(kind, m.group(), start, line - 1, column, line, 1, end)
            elif kind == "_UNEXPECTED":
                raise UnexpectedCharacters(text, start, line, start - line_start + 1, state=parser_state)
            else:
                if kind == "LSQB":
                    depth += 1
                elif kind == "RSQB":
                    depth = max(0, depth - 1)
                column = start - line_start + 1
                yield Token(kind, m.group(), start, line, column, line, column + end - start, end)
            prev = kind


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """Without `propagate_positions`: lark would then compute a position for every
    tree node from its children on each reduction (a sixth of the parse time); the
    builder only needs the span of statements and lists, which it reads from their
    first and last tokens (`_Builder.tree_span`)."""
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer=_Lexer, maybe_placeholders=False)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_TOKEN_WORDS = {
    "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`",
    "NAME": "a name", "STRING": "a string", "NUMBER": "a number", "_NL": "a line break",
    "$END": "the end of the file",
}


class _Builder:
    """Turns lark trees into Stmt/Tok with file spans (shifted by line_offset)."""

    def __init__(self, file: str, line_offset: int, diagnostics: list[Diagnostic]):
        self.file = file
        self.offset = line_offset
        self.diagnostics = diagnostics

    def span(self, tok: Token) -> Span:
        return Span(self.file, tok.line + self.offset, tok.column,
                    tok.end_line + self.offset, tok.end_column)

    def tree_span(self, tree: Tree) -> Span:
        """From the tree's first token to its last: a statement starts with its keyword
        token and ends with its last argument or its block's `}`, a list runs from `[`
        to `]`, so the first and last children are tokens or end in one."""
        first, last = tree.children[0], tree.children[-1]
        while isinstance(last, Tree):
            last = last.children[-1]
        return Span(self.file, first.line + self.offset, first.column,
                    last.end_line + self.offset, last.end_column)

    def string(self, tok: Token) -> str:
        raw = tok.value[1:-1]
        if "\\" not in raw:  # the common case: nothing to decode, nothing to report
            return raw
        out, i = [], 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", raw[i + 2:i + 6]):
                out.append(chr(int(raw[i + 2:i + 6], 16)))
                i += 6
            else:
                col = tok.column + 1 + i
                line = tok.line + self.offset
                self.diagnostics.append(error(
                    "E103", f"unknown escape `\\{nxt}` in string",
                    Span(self.file, line, col, line, col + 2),
                    'escapes are \\" \\\\ \\n \\t \\r \\/ and \\uXXXX'))
                out.append(nxt)
                i += 2
        return "".join(out)

    def tok(self, t: Token | Tree) -> Tok:
        if isinstance(t, Tree):  # a list
            items = tuple(self.tok(c) for c in t.children
                          if isinstance(c, Token) and c.type not in ("LSQB", "RSQB", "COMMA"))
            return Tok("LIST", "", self.tree_span(t), items)
        text = self.string(t) if t.type == "STRING" else t.value
        return Tok(t.type, text, self.span(t))

    def stmt(self, tree: Tree) -> Stmt:
        keyword, *rest = tree.children
        args, block = [], None
        for child in rest:
            if isinstance(child, Tree) and child.data == "block":
                block = tuple(self.stmt(c) for c in child.children if isinstance(c, Tree))
            else:
                args.append(self.tok(child))
        return Stmt(self.tok(keyword), tuple(args), block, self.tree_span(tree))


def _describe_unexpected(exc: UnexpectedInput, text: str, file: str, offset: int,
                         lines: list[str]) -> Diagnostic:
    line = exc.line + offset if exc.line and exc.line > 0 else offset + len(lines)
    col = exc.column if exc.column and exc.column > 0 else 1
    span = Span(file, line, col, line, col + 1)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch == '"':
            return error("E102", "unterminated string", Span(file, line, col, line, col + 1),
                         'close the string with `"` on the same line')
        return error("E101", f"unexpected character `{ch}`", span,
                     "names are letters, digits, `_`, `-` and `.`; values go in double quotes")
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = sorted(_TOKEN_WORDS.get(e, e) for e in exc.expected if not e.startswith("__"))
    if tok.type == "$END":
        brace = _unclosed_brace(text)
        if brace is not None:
            bline, bcol = brace
            return error("E104", "unclosed `{`: the file ends before this block is closed",
                         Span(file, bline + offset, bcol, bline + offset, bcol + 1),
                         "add `}` at the end of the block")
        last = max(1, len(lines) + offset)
        return error("E105", "unexpected end of file", Span(file, last, 1, last, 2),
                     "expected " + ", ".join(expected))
    width = max(1, len(tok.value.rstrip("\r\n"))) if tok.type != "_NL" else 1
    span = Span(file, tok.line + offset, tok.column, tok.line + offset, tok.column + width)
    shown = "a line break" if tok.type == "_NL" else f"`{tok.value}`"
    hint = "expected " + " or ".join(expected) if expected else None
    if tok.type == "_NL" and "RSQB" in exc.expected:
        hint = "close the list with `]`"
    return error("E100", f"unexpected {shown}", span, hint)


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """Line and column of the last `{` that is never closed, ignoring strings/comments."""
    stack: list[tuple[int, int]] = []
    line, col = 1, 0
    in_str = in_comment = escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment, in_str = line + 1, 0, False, False
            continue
        if in_comment:
            continue
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_str = True
        elif ch == "{":
            stack.append((line, col))
        elif ch == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None


_TOP_LEVEL_START = re.compile(r"^[A-Za-z_]", re.MULTILINE)


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split at lines that begin in column 1 with a name: (line offset, chunk)."""
    starts = [m.start() for m in _TOP_LEVEL_START.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    out, line = [], 0
    for a, b in zip(starts, starts[1:] + [len(text)]):
        piece = text[a:b]
        out.append((line, piece))
        line += piece.count("\n")
    return out


def parse_syntax(text: str, file: str) -> SyntaxResult:
    """Parse the whole text; on a syntax error, re-parse top-level chunks to find more."""
    diagnostics: list[Diagnostic] = []
    comments: list[Comment] = []
    builder = _Builder(file, 0, diagnostics)
    try:
        tree = _parser().parse(text)
        stmts = [builder.stmt(c) for c in tree.children if isinstance(c, Tree)]
        comments = _comments(text, file)
        return SyntaxResult(stmts, comments, diagnostics)
    except UnexpectedInput:
        pass
    stmts = []
    for offset, chunk in _chunks(text):
        if len([d for d in diagnostics if d.is_error]) >= MAX_ERRORS:
            break
        try:
            tree = _parser().parse(chunk)
        except UnexpectedInput as exc:
            diagnostics.append(_describe_unexpected(exc, chunk, file, offset, chunk.split("\n")))
            continue
        chunk_builder = _Builder(file, offset, diagnostics)
        stmts.extend(chunk_builder.stmt(c) for c in tree.children if isinstance(c, Tree))
    return SyntaxResult(stmts, _comments(text, file), diagnostics)


_COMMENT_LEXER_RE = re.compile(r'"(?:[^"\\\n\r]|\\[^\n\r])*"|#[^\r\n]*')


def _comments(text: str, file: str) -> list[Comment]:
    """Comments with their positions (strings skipped), for the formatter."""
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        for m in _COMMENT_LEXER_RE.finditer(line):
            if m.group().startswith("#"):
                col = m.start() + 1
                out.append(Comment(m.group(), Span(file, lineno, col, lineno, col + len(m.group()))))
    return out
