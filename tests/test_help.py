"""`slpc help prove` and `slpc help report`: printed from the data the commands use."""

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
