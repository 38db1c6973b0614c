"""report.html: one self-contained page (inline CSS and SVG, nothing loaded from
anywhere), rendered by jinja2 with autoescaping on for every value."""

from __future__ import annotations

import jinja2

from . import picture

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("slpc.report", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(ev: dict) -> str:
    cells = {(c["principal"], c["asset"]): c["grants"] for c in ev["matrix"]}
    unconfirmed = [(c["principal"], c["asset"]) for c in ev["matrix"] if not c["meaning_confirms"]]
    return _ENV.get_template("report.html.j2").render(ev=ev, cells=cells, unconfirmed=unconfirmed,
                                                      pic=picture.layout(ev), indent=picture.INDENT)
