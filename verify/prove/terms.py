"""Boolean connectives and equalities for the encoding, built through Z3's C API.

z3's Python `And`, `Or` and `==` check every argument's sort and context in
Python; the encoding's arguments are well-sorted terms of one context by
construction, and a large deployment builds millions of them, so that checking
was most of `slpc prove`'s time. Constants are folded on the way (True drops
out of a conjunction, False decides it), which also keeps the solver's input
small. Python bools are accepted wherever a term is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import z3

_CTX = z3.main_ctx()
TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)


# The C function behind `Z3_get_ast_id`, without the wrapper's error check (asking a live
# term's id cannot fail), which was a third of the connectives' time.
try:
    _GET_ID = z3.z3core.Z3_get_ast_id.__defaults__[0].f
except (AttributeError, IndexError, TypeError):  # another z3 release: the checked wrapper
    _GET_ID = z3.Z3_get_ast_id


def _id(t: z3.BoolRef) -> int:
    return _GET_ID(_CTX.ref(), t.ast)


# Z3 keeps one node per distinct term (hash-consing), so a term is `true` or `false` exactly
# when its node is theirs: comparing the node's address is a Python attribute read, where
# asking its id is a call into the library (a tenth of `slpc prove`'s time, once per operand).
_TRUE_AT, _FALSE_AT = TRUE.ast.value, FALSE.ast.value


def _connective(terms: Iterable, unit: int, zero: int, mk) -> z3.BoolRef:
    kept = []
    for t in terms:
        if t is True or t is False:
            t = TRUE if t else FALSE
        at = t.ast.value
        if at == zero:
            return TRUE if zero == _TRUE_AT else FALSE
        if at != unit:
            kept.append(t)
    if not kept:
        return TRUE if unit == _TRUE_AT else FALSE
    if len(kept) == 1:
        return kept[0]
    args = (z3.Ast * len(kept))(*(t.as_ast() for t in kept))
    return z3.BoolRef(mk(_CTX.ref(), len(kept), args), _CTX)


def conj(*terms) -> z3.BoolRef:
    """`z3.And`, folded."""
    return _connective(terms, _TRUE_AT, _FALSE_AT, z3.Z3_mk_and)


def disj(*terms) -> z3.BoolRef:
    """`z3.Or`, folded."""
    return _connective(terms, _FALSE_AT, _TRUE_AT, z3.Z3_mk_or)


def boolean(value: bool) -> z3.BoolRef:
    """`z3.BoolVal`, without building a term."""
    return TRUE if value else FALSE


def negate(t) -> z3.BoolRef:
    """`z3.Not`, folded."""
    if t is True or t is False:
        return boolean(not t)
    at = t.ast.value
    if at == _TRUE_AT or at == _FALSE_AT:
        return boolean(at == _FALSE_AT)
    return z3.BoolRef(z3.Z3_mk_not(_CTX.ref(), t.as_ast()), _CTX)


def implies(a, b) -> z3.BoolRef:
    """`z3.Implies` (folded when `a` is a constant)."""
    if a is True or a is False:
        a = boolean(a)
    if b is True or b is False:
        b = boolean(b)
    at = a.ast.value
    if at == _TRUE_AT or at == _FALSE_AT:
        return b if at == _TRUE_AT else TRUE
    return z3.BoolRef(z3.Z3_mk_implies(_CTX.ref(), a.as_ast(), b.as_ast()), _CTX)


def is_false(t: z3.BoolRef) -> bool:
    """`z3.is_false` by the constant's node (its operator lookup cost a second per thousand queries)."""
    return t.ast.value == _FALSE_AT


def same(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    """`a == b` for two terms of one sort."""
    return z3.BoolRef(z3.Z3_mk_eq(_CTX.ref(), a.as_ast(), b.as_ast()), _CTX)


@lru_cache(maxsize=65536)
def text(value: str) -> z3.SeqRef:
    """A string constant (the same few ARNs and endpoint ids recur in every query)."""
    return z3.StringVal(value)


def is_text(term: z3.SeqRef, value: str) -> z3.BoolRef:
    return same(term, text(value))


def assert_all(solver: z3.Solver, terms) -> None:
    """`solver.add(*terms)` without z3's per-term sort checks (the terms are Boolean by
    construction; Python bools are accepted)."""
    for t in terms:
        t = (TRUE if t else FALSE) if isinstance(t, bool) else t
        z3.Z3_solver_assert(_CTX.ref(), solver.solver, t.as_ast())
