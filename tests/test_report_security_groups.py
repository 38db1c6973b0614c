"""The report shows each network's subnets and the security groups slpc writes for it,
with what each admits, read back from the artifacts: in evidence.json, the Markdown and
HTML tables and the perimeter picture."""

import dataclasses

from markupsafe import escape

from test_report import compiled_example, evidence_of, example_evidence, hostile_evidence
from slpc.report import markdown, picture, render
from slpc.targets.security_groups import ROLE

EX_TEXT = compiled_example().sources[0].data.decode()


def _groups(ev, network):
    return {g["role"]: g for n in ev["networks"] if n["name"] == network for g in n["slpc_security_groups"]}


def test_evidence_lists_each_network_s_groups_and_what_they_admit():
    ev = example_evidence()
    prod = next(n for n in ev["networks"] if n["name"] == "prod_vpc")
    assert prod["subnets"] == ["subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891"]
    assert prod["security_groups"] == ["sg-0a1b2c3d4e5f67890"]
    assert prod["clients"] == ["10.20.0.0/19", "10.20.32.0/19", "sg-0123456789abcdef0"]
    assert {e["id"]: e["type"] for e in prod["endpoints"]}["vpce-01a2b3c4d5e6f7a80"] == "gateway"
    groups = _groups(ev, "prod_vpc")
    assert groups["endpoints"]["attached_to"] == ["vpce-01a2b3c4d5e6f7a81", "vpce-01a2b3c4d5e6f7a82",
                                                  "vpce-01a2b3c4d5e6f7a83", "vpce-01a2b3c4d5e6f7a84"]
    assert [r["text"] for r in groups["endpoints"]["rules"]] == [
        "in: TCP 443 from range 10.20.0.0/19", "in: TCP 443 from range 10.20.32.0/19",
        "in: TCP 443 from security group sg-0123456789abcdef0",
        "in: TCP 443 from slpc's workload group slpc-acme-llm-prod_vpc-workload"]
    assert [r["text"] for r in groups["workload"]["rules"]] == [
        "in: all traffic from members of this group", "out: all traffic to members of this group",
        "out: TCP 443 to slpc's endpoints group slpc-acme-llm-prod_vpc-endpoints",
        "out: TCP 443 to the S3 gateway endpoint (prefix list com.amazonaws.eu-central-1.s3)"]
    assert set(_groups(ev, "eval_vpc")) == {"endpoints"} and _groups(ev, "corp_office") == {}


def test_the_report_shows_what_was_written_not_what_was_declared():
    """A rule widened in the artifact shows as widened: the evidence reads the artifacts."""
    c = compiled_example()
    arts = []
    for a in c.artifacts:
        if a.path == "network/eval_vpc/endpoints-security-group.json":
            settings = {**a.settings, "Ingress": [{**a.settings["Ingress"][0], "CidrIp": "10.0.0.0/8"}]}
            a = dataclasses.replace(a, settings=settings)
        arts.append(a)
    ev = evidence_of(dataclasses.replace(c, artifacts=arts))
    assert [r["text"] for r in _groups(ev, "eval_vpc")["endpoints"]["rules"]] == ["in: TCP 443 from range 10.0.0.0/8"]


def test_markdown_and_html_list_every_rule():
    ev = example_evidence()
    files = render(ev)
    for n in ev["networks"]:
        for g in n["slpc_security_groups"]:
            for r in g["rules"]:
                assert markdown.text(r["text"]) in files["report.md"]
                assert str(escape(r["text"])) in files["report.html"]
    md = files["report.md"]
    section = md[md.index("### Security groups slpc writes"):md.index("### Assets")]
    assert section.count("| `prod_vpc` |") == 2 and section.count("| `eval_vpc` |") == 1
    assert "out: nothing" in section  # an endpoint group opens no connection
    assert '<table id="security-groups">' in files["report.html"]


def test_a_spec_without_groups_says_so():
    text = EX_TEXT.replace('  clients ["10.40.0.0/16"]\n', "").replace(
        '  clients ["10.20.0.0/19", "10.20.32.0/19", "sg-0123456789abcdef0"]\n', "").replace(
        '  subnets ["subnet-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67891"]\n', "")
    c = compiled_example(text=text)
    assert not [a for a in c.artifacts if a.kind in ROLE]
    files = render(evidence_of(c))
    assert "None: no network has a `vpc` with interface endpoints and `clients`" in files["report.md"]
    assert "None: no network has a <code>vpc</code>" in files["report.html"]


def test_picture_lists_groups_and_rules_under_their_network():
    pic = picture.layout(example_evidence())
    prod = next(b for b in pic.boxes if b.id == "net:prod_vpc")
    lines = [(t, cls) for t, cls in prod.lines]
    assert ("subnet subnet-0a1b2c3d4e5f67890", picture.DETAIL) in lines
    assert ("endpoints group: 4 interface endpoint(s)", picture.GROUP) in lines
    assert ("workload group: SageMaker", picture.GROUP) in lines
    rules = [t for t, cls in lines if cls == picture.RULE]
    assert rules == ["in  tcp 443 from 10.20.0.0/19", "in  tcp 443 from 10.20.32.0/19",
                     "in  tcp 443 from sg-0123456789abcdef0", "in  tcp 443 from slpc workload group",
                     "out nothing", "in  all from itself", "out all to itself", "out tcp 443 to slpc endpoints group",
                     "out tcp 443 to S3 (prefix list)"]
    # nothing is cut: every line fits its box
    assert not any(t.endswith("\u2026") for t, _ in lines)
    # the tooltip names each group and every rule in full
    assert "slpc-acme-llm-prod_vpc-workload" in prod.full
    assert "out: TCP 443 to the S3 gateway endpoint (prefix list com.amazonaws.eu-central-1.s3)" in prod.full
    # the box is tall enough for its lines
    assert prod.height >= picture.HEAD + picture.LINE * len(prod.lines)


def test_picture_boxes_do_not_overlap():
    pic = picture.layout(example_evidence())
    for a in pic.boxes:
        for b in pic.boxes:
            if a is not b and a.column == b.column:
                assert a.y + a.height <= b.y or b.y + b.height <= a.y
    xs = sorted({(b.x, b.width) for b in pic.boxes})
    assert all(x1 + w1 < x2 for (x1, w1), (x2, _) in zip(xs, xs[1:]))
    assert max(b.x + b.width for b in pic.boxes) <= pic.width


def test_hostile_group_names_are_escaped():
    """Group names carry the deployment's name, which the hostile evidence makes HTML-like."""
    files = render(hostile_evidence())
    page = files["report.html"]
    table = page[page.index('<table id="security-groups">'):]
    table = table[:table.index("</table>")]
    assert "slpc-acme &lt;!-- &amp; --&gt; &#34;quoted&#34; |a|b|-prod_vpc-workload" in table
    assert "<!--" not in table
    md = files["report.md"]
    section = md[md.index("### Security groups slpc writes"):md.index("### Assets")]
    # in a code span (the group's name) or backslash-escaped (in a rule's words); test_report's
    # test_hostile_names_cannot_break_markdown checks every line of the page
    assert "`slpc-acme <!-- & --> \"quoted\" \\|a\\|b\\|-prod_vpc-workload`" in section
    assert "slpc-acme \\<\\!-- \\& --\\> \"quoted\" \\|a\\|b\\|-prod\\_vpc-workload" in section


def test_a_cross_region_endpoint_shows_the_region_it_reaches():
    text = EX_TEXT.replace('regions   ["eu-central-1"]', 'regions   ["eu-central-1", "eu-west-1"]').replace(
        '  name   "llm-serving"\n', '  name   "llm-serving"\n  region "eu-central-1"\n').replace(
        '  sagemaker "llm-chat-prod"\n', '  sagemaker "llm-chat-prod"\n  region "eu-central-1"\n').replace(
        '  vpc "vpc-0f9e8d7c6b5a43210"\n', '  vpc "vpc-0f9e8d7c6b5a43210"\n  region "eu-central-1"\n').replace(
        '  endpoint kms               "vpce-01a2b3c4d5e6f7a83"\n',
        '  endpoint kms               "vpce-01a2b3c4d5e6f7a83" region "eu-west-1"\n')
    ev = evidence_of(compiled_example(text=text))
    prod = next(n for n in ev["networks"] if n["name"] == "prod_vpc")
    regions = {e["id"]: e["region"] for e in prod["endpoints"]}
    assert regions["vpce-01a2b3c4d5e6f7a83"] == "eu-west-1" and regions["vpce-01a2b3c4d5e6f7a84"] == "eu-central-1"
    files = render(ev)
    assert "`kms` `vpce-01a2b3c4d5e6f7a83` \u2192 `eu-west-1`" in files["report.md"]
    assert "`vpce-01a2b3c4d5e6f7a84` \u2192" not in files["report.md"]  # its network's own region: not repeated
    assert "<code>vpce-01a2b3c4d5e6f7a83</code> → <code>eu-west-1</code>" in files["report.html"]
    box = next(b for b in picture.layout(ev).boxes if b.id == "net:prod_vpc")
    assert ("kms vpce-01a2b3c4d5e6f7a83 \u2192 eu-west-1", picture.DETAIL) in box.lines
