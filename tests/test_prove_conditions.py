"""The condition encoding equals the evaluator's condition semantics, operator by operator.

For generated conditions (every operator family, negated forms, `...IfExists`,
`Null`, `ForAllValues:`/`ForAnyValue:`, wildcards) and generated request contexts
(absent keys, one or several values), the Z3 term fixed to the context must prove
exactly the evaluator's answer (`slpc.verify.conditions.compile_condition`).
"""

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from slpc.policy.document import VERSION, Condition, PolicyDocument, Statement
from slpc.verify.conditions import compile_condition
from slpc.verify.prove.context import Context, KeyType, key_types, pin
from slpc.verify.prove.encode import condition
from strategies import PROPERTY

pytestmark = pytest.mark.property

KEY = "test:key"
FAMILIES = {
    "String": (("StringEquals", "StringNotEquals", "StringLike", "StringNotLike"),
               ("abc", "a*", "a?c", "*c", "", "ab*c?"), ("abc", "ac", "abbc", "xbc", "", "a", "abcd")),
    "Arn": (("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
            ("arn:aws:iam::1:role/a", "arn:aws:iam::*:role/a", "arn:aws:iam::1:role/*", "arn:*:iam::1:*"),
            ("arn:aws:iam::1:role/a", "arn:aws:iam::2:role/a", "arn:aws:iam::1:x:role/a", "arn:aws:iam::1:role/b/c")),
    "Numeric": (("NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                 "NumericGreaterThan", "NumericGreaterThanEquals"), ("1", "1.5", "10"), ("0.5", "1", "1.5", "2", "10")),
    "Date": (("DateEquals", "DateNotEquals", "DateLessThan", "DateGreaterThanEquals"),
             ("2027-06-30T00:00:00Z", "2030-01-01T00:00:00Z"),
             ("2027-06-29T23:59:59Z", "2027-06-30T00:00:00Z", "2027-06-30T00:00:00.500000Z", "2031-01-01T00:00:00Z")),
    "Ip": (("IpAddress", "NotIpAddress"), ("10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "10.1.2.3/32"),
           ("10.1.2.3", "10.200.0.1", "192.168.1.77", "192.168.2.1", "2001:db8::1", "2001:db9::1", "11.0.0.1")),
    "Bool": (("Bool",), ("true", "false"), ("true", "false")),
}


@st.composite
def cases(draw):
    ops, policy_values, context_values = FAMILIES[draw(st.sampled_from(sorted(FAMILIES)))]
    if draw(st.integers(0, 9)) == 0:
        cond = Condition("Null", KEY, (draw(st.sampled_from(("true", "false"))),))
    else:
        op = draw(st.sampled_from(ops)) + ("IfExists" if draw(st.booleans()) else "")
        prefix = draw(st.sampled_from(("", "", "ForAllValues:", "ForAnyValue:")))
        values = tuple(draw(st.lists(st.sampled_from(policy_values), min_size=1, max_size=3, unique=True)))
        cond = Condition(prefix + op, KEY, values)
    given_values = draw(st.lists(st.sampled_from(context_values), max_size=2))
    return cond, given_values


@PROPERTY
@given(cases())
def test_condition_terms_decide_as_the_evaluator(case):
    cond, values = case
    doc = PolicyDocument((Statement("Deny", actions=("s3:GetObject",), conditions=(cond,)),))
    types = key_types([doc], {})
    kt = types.get(KEY.lower(), KeyType("str"))
    types[KEY.lower()] = KeyType(kt.family, 2, kt.domain)  # room for two values
    ctx = Context(types)
    term = condition(ctx, cond, VERSION)
    expected = compile_condition(cond, VERSION)({KEY.lower(): tuple(values)} if values else {})
    solver = z3.Solver()
    solver.add(*ctx.facts, *pin(ctx, {KEY: values}))
    assert solver.check() == z3.sat
    solver.add(term != z3.BoolVal(expected))
    assert solver.check() == z3.unsat, (cond, values, expected)
