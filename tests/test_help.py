"""`slpc help prove` and `slpc help report`: printed from the data the commands use."""

import pytest

from slpc.app.commands import help as help_topics
from slpc.app.cli import main
from slpc.report import controls as C
from slpc.verify.prove.properties import PROPERTIES


def test_prove_topic_lists_every_property(capsys):
    assert main(["help", "prove"]) == 0
    out = capsys.readouterr().out
    for p in PROPERTIES:
        assert f"  {p.number}  {p.name}: {p.claim}" in out
    assert "--policies DIR" in out and "unknown" in out


def test_report_topic_lists_the_flags_and_each_controls_properties(capsys):
    assert main(["help", "report"]) == 0
    out = capsys.readouterr().out
    for flag in ("--validation", "--proof", "--prove"):
        assert flag in out
    for c in C.load().controls:
        line = next(x for x in out.splitlines() if x.split()[:1] == [c.id])
        assert (", ".join(map(str, c.proofs)) or "-") in line and c.title in line


def test_every_topic_prints_and_is_listed(capsys):
    assert main(["help"]) == 0
    listed = capsys.readouterr().out
    for name in help_topics.TOPICS:
        assert name in listed and help_topics.topic(name)
    assert main(["help", "prov"]) == 2
    assert "did you mean `prove`" in capsys.readouterr().err


def test_every_command_module_is_named_as_its_command():
    """`slpc.app.commands.MODULES` maps each command to the module that a run of just
    that command imports: a wrong row would run (or list) the wrong command."""
    from slpc.app.commands import MODULES, load
    assert [load(name).NAME for name in MODULES] == list(MODULES)


def test_one_command_parses_as_with_every_command(capsys):
    """Building only the invoked command's parser changes neither its usage nor its errors."""
    from slpc.app.cli import parser
    for only in (None, "compile"):
        with pytest.raises(SystemExit):
            parser(only).parse_args(["compile", "--target", "nope", "x.slp"])
    alone, every = capsys.readouterr().err.split("usage: ")[1:]
    assert alone == every
