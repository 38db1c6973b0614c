"""report.md: the evidence as GitHub-flavoured Markdown, for a wiki or a PR.

Every value from the spec or a validation file goes through `code` (names, ARNs,
prefixes: a code span, which renders `<`, `&`, `*`, `[` literally) or `text`
(prose: every Markdown metacharacter backslash-escaped), so no name can open a
link, raw HTML, emphasis or a new table cell.
"""

from __future__ import annotations

import re

_META = re.compile(r"([\\`*_\[\]()<>!|~&])")
_BLOCK_START = re.compile(r"^(\d*)([#>+=.)-])")  # a list item, heading or quote at line start


def _one_line(value) -> str:
    return " ".join(str(value).split())


def text(value) -> str:
    """Plain prose: CommonMark lets any ASCII punctuation be backslash-escaped."""
    s = _META.sub(r"\\\1", _one_line(value))
    return _BLOCK_START.sub(r"\1\\\2", s)


def code(value) -> str:
    """A code span that holds `value` literally, safe inside a table cell.

    The fence is one backtick longer than the longest run inside; a pipe is
    escaped, which GFM tables require even inside code spans."""
    s = _one_line(value).replace("|", "\\|")
    if not s:
        return "\u2014"  # an em dash for "none"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def codes(values) -> str:
    return ", ".join(code(v) for v in values) or "\u2014"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _grant(g: dict) -> str:
    parts = [f"**{text(g['verb'])}**"]
    if g.get("prefix"):
        parts.append(code(g["prefix"]))
    parts.append("from " + codes(g["networks"]))
    if g["ended"]:
        return " ".join(parts) + " ended " + code(g["until"]) + " (grants nothing any more)"
    return " ".join(parts) + (" until " + code(g["until"]) if g.get("until") else " \u00b7 no expiry")


def _security_groups(ev: dict) -> list[str]:
    out = ["### Security groups slpc writes", ""]
    rows = [[code(n["name"]), code(g["name"]) + f" ({text(g['role'])})",
             codes(g["attached_to"]) if g["role"] == "endpoints" else text(g["used_by"]) + "; subnets " + codes(n["subnets"]),
             "<br>".join([text(r["text"]) for r in g["rules"]] + [
                 f"{word}: nothing" for word, d in (("in", "ingress"), ("out", "egress"))
                 if not any(r["direction"] == d for r in g["rules"])])]
            for n in ev["networks"] for g in n["slpc_security_groups"]]
    if not rows:
        return out + ["None: no network has a `vpc` with interface endpoints and `clients`, or with `subnets`.", ""]
    out += ["Each group admits only the rules listed (no other ingress; no other egress: slpc replaces the default "
            "allow-all egress).", ""]
    return out + _table(["network", "group", "on", "rules"], rows)


def _glance(ev: dict) -> list[str]:
    d = ev["deployment"]
    out = ["## The deployment at a glance", ""]
    out += _table(["deployment", "partition", "account", "organization", "regions", "accounts involved"],
                  [[code(d["name"]), code(d["partition"]), code(d["account"]), code(d["org"] or ""),
                    codes(d["regions"]), codes(ev["accounts"])]])
    out += ["### Networks", ""]
    out += _table(["network", "account", "VPC", "endpoints", "public CIDRs", "subnets", "SageMaker security groups"],
                  [[code(n["name"]), code(n["account"]), code(n["vpc"] or ""),
                    ", ".join(f"{code(e['service'])} {code(e['id'])}" + (
                        f" \u2192 {code(e['region'])}" if e["region"] != n["region"] else "")
                              for e in n["endpoints"]) or "\u2014",
                    codes(n["cidrs"]), codes(n["subnets"]), codes(n["security_groups"])] for n in ev["networks"]])
    out += _security_groups(ev)
    out += ["### Assets", ""]
    out += _table(["asset", "kind", "ARN", "key", "admins", "breakglass", "Object Lock", "audit"],
                  [[code(a["name"]), text(a["kind"]), code(a["arn"]), code(a["key"] or ""), codes(a["admins"]),
                    codes(a["breakglass"]),
                    text(f"{a['object_lock']['mode']} {a['object_lock']['days']} days") if a["object_lock"] else "\u2014",
                    codes(a["audit"])] for a in ev["assets"]])
    out += ["### Principals", ""]
    out += _table(["principal", "account", "ARN"],
                  [[code(p["name"]), code(p["account"]), code(p["arn"])] for p in ev["principals"]])
    out += ["### Keys", ""]
    out += _table(["key", "region", "ARN", "admins"],
                  [[code(k["name"]), code(k["region"]), code(k["arn"]), codes(k["admins"])] for k in ev["keys"]])
    out += ["### Layers coarser than the spec", ""]
    if not ev["coarser"]:
        return out + ["None: every artifact is in its exact form.", ""]
    out += ["These artifacts did not fit AWS's limits in their exact form; the other layers keep the spec exact.", ""]
    return out + _table(["artifact", "kind", "for", "how it is coarser"],
                        [[code(c["artifact"]), code(c["kind"]), code(c["name"]), text(c["how"])] for c in ev["coarser"]])


def _matrix(ev: dict) -> list[str]:
    assets = [a["name"] for a in ev["assets"]]
    cells = {(c["principal"], c["asset"]): c["grants"] for c in ev["matrix"]}
    rows = [[code(p["name"])] + ["<br>".join(_grant(g) for g in cells.get((p["name"], a), ())) or "\u2014"
                                 for a in assets] for p in ev["principals"]]
    out = ["## Access matrix", "",
           "Principal \u00d7 asset: each cell lists the verbs, prefix, networks and expiry the spec grants. "
           "Default deny: an empty cell means no access.", ""]
    out += _table(["principal"] + [code(a) for a in assets], rows)
    unconfirmed = [(c["principal"], c["asset"]) for c in ev["matrix"] if not c["meaning_confirms"]]
    if unconfirmed:
        out += ["**Warning:** the spec's meaning does not confirm these cells: "
                + ", ".join(f"{code(p)} on {code(a)}" for p, a in unconfirmed), ""]
    else:
        out += ["Every cell was confirmed against the spec's meaning (`slpc.verify.meaning`): each action is "
                "permitted from each listed network before the expiry, and refused after it and from outside.", ""]
    return out


def _by_asset(ev: dict) -> list[str]:
    out = ["## Who can touch each asset", ""]
    for a in ev["by_asset"]:
        out += [f"### {text(a['kind'])} {code(a['asset'])}", ""]
        if a.get("authorization"):
            out += [f"Authorization: {text(a['authorization'])}.", ""]
        rows = [[code(x["principal"]), text(x["verb"]) + (" via " + code(x["via"]) if x.get("via") else ""),
                 code(x["prefix"]), codes(x["networks"]), code(x["until"]) if x["until"] else "no expiry"]
                for x in a["access"]]
        rows += [[text(x["who"]), text(x["how"]), "\u2014", codes(x["networks"]) if x["networks"] else "API Gateway",
                  "no expiry"] for x in a.get("callers", [])]
        rows += [[code(x["principal"]), f"{text(x['duty'])}: {text(x['detail'])}", "\u2014", "\u2014", "\u2014"]
                 for x in a["duties"]]
        out += _table(["who", "what", "prefix", "from", "until"], rows) if rows else ["Nobody.", ""]
    return out


def _becoming(ev: dict) -> list[str]:
    out = ["## Who can become each role", "",
           "Every grant above holds only as far as nobody else can obtain the role's credentials, have a "
           "service run code as it, or change its policies: the spec's trust policies, `iam:PassRole` "
           "statements and guardrails say who may.", ""]
    rows = [[code(r["role"]),
             "<br>".join(text(w) for w in r["ways"]) or ("nobody" if r["declared"] else "**not declared**"),
             "<br>".join(f"{code(p['role'])} to {code(p['service'])}" for p in r["passed_by"]) or "\u2014",
             codes(r["admins"]) if r["admins"] else "\u2014"]
            for r in ev["becoming"]]
    return out + _table(["role", "obtained by", "passed by", "changed by"], rows)


def _verdict(v: dict) -> str:
    return f"{text(v['status'])}: {text(v['detail'])}"


def _outcome(p: dict) -> str:
    """A proof property's verdict and, when refuted, the `slpc explain` line that replays it."""
    out = f"**{text(p['verdict'])}**"
    if p["explain"]:
        out += " \u00b7 counterexample: " + code(p["explain"])
    return "<br>".join([out] + [text(x) for x in p["problems"] + p["unknown"]])


def _property(p: dict) -> str:
    return f"{p['number']} {text(p['name'])}: {_outcome(p)}"


def _controls(ev: dict) -> list[str]:
    out = ["## Controls and compliance mapping", "", f"> **{text(ev['mapping']['note'])}**", ""]
    fws = ev["mapping"]["frameworks"]
    for c in ev["controls"]:
        out += [f"### {text(c['id'])}: {text(c['title'])}", "", text(c["description"]), ""]
        out += ["Frameworks: " + "; ".join(f"{text(fws[fw]['title'])}: {', '.join(text(i) for i in ids)}"
                                           for fw, ids in c["frameworks"].items()), ""]
        out += _table(["artifact", "kind", "statement Sids", "SHA\u2011256"],
                      [[code(i["path"]), code(i["kind"]), codes(i["sids"]), code(i["sha256"][:16] + "\u2026")]
                       for i in c["implemented_by"]]) if c["implemented_by"] else ["Not present in this deployment.", ""]
        v = c["verification"]
        out += _table(["verification", "status"],
                      [["offline validator", _verdict(v["offline_validator"])],
                       ["tests", _verdict(v["tests"]) + "<br>" + codes(v["tests"]["tests"])],
                       ["proof (`slpc prove`)", "<br>".join([_verdict(v["proof"])]
                                                            + [_property(p) for p in v["proof"]["properties"]])],
                       ["live (`slpc validate`)", _verdict(v["live"])]])
    return out


def _validation(ev: dict) -> list[str]:
    val = ev["validation"]
    out = ["## Live validation", ""]
    if val is None:
        return out + ["No `slpc validate` results were given (`--validation FILE`).", ""]
    out += [f"From {code(val['file'])} (SHA\u2011256 {code(val['sha256'])}): "
            f"{len(val['checked'])} artifact(s) in sync, {len(val['findings'])} finding(s), "
            f"{len(val['skipped'])} skipped.", ""]
    if val["foreign_artifacts"]:
        out += ["**Warning:** these results name artifacts this spec does not build (results of another spec?): "
                + codes(val["foreign_artifacts"]), ""]
    if val["findings"]:
        out += _table(["artifact", "level", "code", "source", "statement Sids", "message"],
                      [[code(f["artifact"]), text(f["level"]), code(f["code"]), text(f["source"]), codes(f["sids"]),
                        text(f["message"])] for f in val["findings"]])
    return out


def _proof(ev: dict) -> list[str]:
    proof = ev["proof"]
    out = ["## Proofs", ""]
    if proof is None:
        return out + ["No `slpc prove` results were given (`--proof FILE` or `--prove`).", ""]
    where = (f"From {code(proof['file'])} (SHA\u2011256 {code(proof['sha256'])})" if proof["file"]
             else "From `slpc prove`, run by this report")
    out += [f"{where}, for this spec. Universe: {text(proof['universe'])}", ""]
    return out + _table(["property", "verdict"], [[text(f"{p['number']}. {p['name']}"), _outcome(p)]
                                                  for p in proof["properties"]])


def _integrity(ev: dict) -> list[str]:
    i = ev["integrity"]
    out = ["## Integrity", ""]
    out += _table(["", ""], [["slpc version", code(i["slpc_version"])],
                             ["action catalogue", text(i["catalogue_version"])],
                             ["manifest version", code(i["manifest_version"])],
                             ["spec SHA\u2011256 (all sources)", code(i["source_sha256"])],
                             ["generated at", code(ev["generated_at"]) + f" ({text(ev['timestamp_source'])})"]])
    out += _table(["source", "SHA\u2011256"], [[code(s["path"]), code(s["sha256"])] for s in i["sources"]])
    out += _table(["artifact", "kind", "offline validator", "SHA\u2011256"],
                  [[code(a["path"]), code(a["kind"]), text(a["offline_validator"]["status"]), code(a["sha256"])]
                   for a in i["artifacts"]])
    return out


def render(ev: dict) -> str:
    lines = [f"# slpc evidence: {code(ev['deployment']['name'])}", "",
             f"Generated by slpc {code(ev['integrity']['slpc_version'])} at {code(ev['generated_at'])} "
             f"({text(ev['timestamp_source'])}). The same content is in `evidence.json` and `report.html`.", ""]
    for part in (_glance, _matrix, _by_asset, _becoming, _controls, _validation, _proof, _integrity):
        lines += part(ev)
    return "\n".join(lines).rstrip("\n") + "\n"
