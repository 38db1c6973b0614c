"""The formatter's contract: parse(fmt(x)) == x, fmt is idempotent, comments survive."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slpc.dsl import format_spec, parse
from strategies import PROPERTY, specs

pytestmark = pytest.mark.property


@PROPERTY
@given(specs())
def test_parse_of_format_is_identity(spec):
    text = format_spec(spec)
    result = parse(text, "gen.slp")
    assert result.ok, [d.message for d in result.diagnostics]
    assert result.spec == spec


@PROPERTY
@given(specs())
def test_format_is_idempotent(spec):
    once = format_spec(spec)
    assert format_spec(parse(once).spec) == once


@PROPERTY
@given(specs(), st.data())
def test_comments_survive_formatting(spec, data):
    lines = format_spec(spec).split("\n")[:-1]
    # scatter whole-line and trailing comments, with messy indentation
    marked = []
    for i, line in enumerate(lines):
        if data.draw(st.booleans(), label=f"before {i}"):
            marked.append(" " * data.draw(st.integers(0, 6)) + f"# note {i}")
        if line.strip() and data.draw(st.booleans(), label=f"after {i}"):
            line += f"   # tail {i}"
        marked.append(line)
    text = "\n".join(marked) + "\n"
    parsed = parse(text)
    assert parsed.ok
    out = format_spec(parsed.spec)
    wanted = sorted(c.text for c in parsed.spec.comments)
    assert sorted(c.text for c in parse(out).spec.comments) == wanted
    assert parse(out).spec == parsed.spec
    assert format_spec(parse(out).spec) == out


def test_example_is_in_canonical_form(example_text):
    assert format_spec(parse(example_text).spec) == example_text


def test_layout_does_not_matter(example_text):
    squashed = "\n".join(" ".join(line.split()) for line in example_text.splitlines())
    assert format_spec(parse(squashed).spec) == example_text


def test_comments_stay_with_their_attribute_when_reordered():
    text = ('deployment "d" {\n  # where it runs\n  regions ["eu-central-1"]\n'
            '  account "111122223333"  # the prod account\n}\n')
    out = format_spec(parse(text).spec)
    assert out == ('deployment "d" {\n  account "111122223333"  # the prod account\n'
                   '  # where it runs\n  regions ["eu-central-1"]\n}\n')


def test_a_networks_endpoint_policies_mode_is_formatted_after_its_lists(example_text):
    text = example_text.replace("network prod_vpc {", "network prod_vpc {\n  endpoint_policies   no_gaps", 1)
    out = format_spec(parse(text, "x.slp").spec)
    block = out.split("network prod_vpc {", 1)[1].split("}", 1)[0].splitlines()
    assert block[-1] == "  endpoint_policies no_gaps" and format_spec(parse(out, "x.slp").spec) == out


def test_a_keys_key_policy_mode_is_formatted_after_its_admins(example_text):
    text = example_text.replace("key model_key {", "key model_key {\n  key_policy   exact", 1)
    out = format_spec(parse(text, "x.slp").spec)
    block = out.split("key model_key {", 1)[1].split("}", 1)[0].splitlines()
    assert block[1:] == ['  arn        "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"',
                         "  admins     [security_admin]", "  key_policy exact"]
    assert format_spec(parse(out, "x.slp").spec) == out
