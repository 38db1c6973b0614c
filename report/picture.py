"""The perimeter picture's layout: networks and their endpoints on the left, assets
and keys in the middle, principals on the right, edges labelled by verb. A network's
box also lists its subnets, the groups it declares for SageMaker and each security
group slpc writes for it, with one line per rule: what the group admits (`in`) or
lets out (`out`), on which ports, from or to whom.

Only geometry and strings are computed here; templates/perimeter.svg.j2 draws
them (escaped by jinja2), so no name ever reaches the SVG unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 1160
BOX_W = 250
NET_W = 300  # a network's box is wider: its security group rules are its longest lines
COLUMNS = {"network": 20, "asset": (20 + NET_W + WIDTH - BOX_W - 20 - BOX_W) // 2, "principal": WIDTH - BOX_W - 20}
TOP, GAP, HEAD, LINE, PORT, STUB = 40, 18, 24, 17, 18, 78
CHAR_W, TITLE_CHAR_W = 7.0, 8.4  # widest likely glyphs: 11px monospace details, 13px bold names
VERB_COLOURS = {"read": "#1f6fb2", "list": "#1f6fb2", "write": "#c05a00", "delete": "#b00020",
                "pull": "#6a3fa0", "push": "#6a3fa0", "invoke": "#1b7f3b"}
DEFAULT_COLOUR = "#555555"


def fit(s: str, width: float, char_w: float = CHAR_W) -> str:
    """`s` cut with an ellipsis to fit `width` pixels (the full text goes in a tooltip)."""
    n = max(4, int(width / char_w))
    return s if len(s) <= n else s[: n - 1] + "\u2026"


DETAIL, GROUP, RULE = "detail", "group", "rule"  # a line's CSS class: plain, a group's heading, one of its rules
INDENT = {DETAIL: 0, GROUP: 0, RULE: 10}  # pixels: a group's rules sit under its heading
SHORT_PEER = {"own-group": "slpc {} group", "prefix-list": "S3 (prefix list)"}


@dataclass
class Box:
    id: str
    column: str
    title: str
    lines: list[tuple[str, str]]  # (text, DETAIL | GROUP | RULE)
    full: str  # tooltip text
    x: int = 0
    y: int = 0
    width: int = BOX_W
    height: int = 0


@dataclass
class Edge:
    source: str
    target: str
    label: str
    colour: str
    points: tuple = ()
    anchor: str = "middle"
    label_at: tuple = ()


@dataclass
class Picture:
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)


def _rule(r: dict, group: str) -> str:
    """One rule, short: `in tcp 443 from 10.20.0.0/19`, `out all to itself`."""
    ports = "all" if r["protocol"] == "-1" else (
        f"{r['protocol']} {r['from_port']}" + ("" if r["from_port"] == r["to_port"] else f"-{r['to_port']}"))
    if r["peer_kind"] == "own-group" and r["peer"] == group:
        peer = "itself"
    else:
        peer = SHORT_PEER.get(r["peer_kind"], "{}").format(r["peer"])
    return f"in  {ports} from {peer}" if r["direction"] == "ingress" else f"out {ports} to {peer}"


def _group_lines(g: dict) -> list[tuple[str, str]]:
    """A group slpc writes: its heading (what it is on), then its rules; a group with
    no rule in a direction admits nothing that way, which is said too."""
    on = f"{len(g['attached_to'])} interface endpoint(s)" if g["role"] == "endpoints" else "SageMaker"
    out = [(f"{g['role']} group: {on}", GROUP)]
    out += [(_rule(r, g["role"]), RULE) for r in g["rules"]]
    for direction, word in (("ingress", "in  nothing"), ("egress", "out nothing")):
        if not any(r["direction"] == direction for r in g["rules"]):
            out.append((word, RULE))
    return out


def _network(n: dict) -> Box:
    lines = [(f"{e['service']} {e['id']}" + (f" \u2192 {e['region']}" if e["region"] != n["region"] else ""), DETAIL)
             for e in n["endpoints"]] + [
        (f"cidr {c}", DETAIL) for c in n["cidrs"]] + [(f"subnet {s}", DETAIL) for s in n["subnets"]] + [
        (f"SageMaker sg {g}", DETAIL) for g in n["security_groups"]]
    full = [n["name"], f"account {n['account']}"] + [t for t, _ in lines]
    for g in n["slpc_security_groups"]:
        lines += _group_lines(g)
        full += [f"security group {g['name']} ({', '.join(g['attached_to']) or g['used_by']}):"]
        full += [f"  {r['text']}" for r in g["rules"]]
    return Box(f"net:{n['name']}", "network", n["name"], lines, "\n".join(full))


def _boxes(ev: dict) -> list[Box]:
    out = [_network(n) for n in ev["networks"]]
    for a in ev["assets"]:
        lines = [f"{a['kind']} {a['resource_name']}"] + ([f"SSE-KMS key {a['key']}"] if a["key"] else [])
        out.append(Box(f"asset:{a['name']}", "asset", a["name"], [(t, DETAIL) for t in lines],
                       f"{a['name']}\n{a['arn']}"))
    for k in ev["keys"]:
        out.append(Box(f"key:{k['name']}", "asset", k["name"], [("KMS key, admins " + ", ".join(k["admins"]), DETAIL)],
                       f"{k['name']}\n{k['arn']}"))
    for p in ev["principals"]:
        out.append(Box(f"principal:{p['name']}", "principal", p["name"],
                       [(p["arn"].split(":", 5)[-1], DETAIL), (f"account {p['account']}", DETAIL)],
                       f"{p['name']}\n{p['arn']}"))
    for b in out:
        b.width = NET_W if b.column == "network" else BOX_W
        b.title = fit(b.title, b.width - 16, TITLE_CHAR_W)
        b.lines = [(fit(s, b.width - 16 - INDENT[cls]), cls) for s, cls in b.lines]
    return out


def _verbs(grants) -> str:
    return ", ".join(sorted({g["verb"] for g in grants}))


def _colour(label: str) -> str:
    verbs = label.split(", ")
    return VERB_COLOURS.get(verbs[0], DEFAULT_COLOUR) if len(verbs) == 1 else DEFAULT_COLOUR


def _edges(ev: dict) -> list[Edge]:
    """Network -> asset (the verbs used from that network) and asset -> principal."""
    by_network: dict[tuple[str, str], list[dict]] = {}
    out = []
    for cell in ev["matrix"]:
        for g in cell["grants"]:
            for n in g["networks"]:
                by_network.setdefault((n, cell["asset"]), []).append(g)
        label = _verbs(cell["grants"])
        out.append(Edge(f"asset:{cell['asset']}", f"principal:{cell['principal']}", label, _colour(label)))
    for (n, a), grants in sorted(by_network.items()):
        label = _verbs(grants)
        out.append(Edge(f"net:{n}", f"asset:{a}", label, _colour(label)))
    return out


def _order(boxes: list[Box], edges: list[Edge]) -> list[Box]:
    """Networks and principals sorted by the mean position of the assets they reach
    (fewer crossings); the middle column keeps the spec's order; unconnected last."""
    rank = {b.id: i for i, b in enumerate(b for b in boxes if b.column == "asset")}

    def key(b: Box):
        near = [rank[e.target if e.source == b.id else e.source] for e in edges if b.id in (e.source, e.target)]
        return (0, sum(near) / len(near)) if near else (1, 0)

    return [b for b in boxes if b.column == "asset"] + sorted((b for b in boxes if b.column != "asset"), key=key)


def layout(ev: dict) -> Picture:
    edges = _edges(ev)
    boxes = _order(_boxes(ev), edges)
    ports = {b.id: 0 for b in boxes}
    for e in edges:
        ports[e.source] += 1
        ports[e.target] += 1
    for b in boxes:  # room for the content, and for every edge to end at its own height
        b.height = max(HEAD + LINE * len(b.lines) + 6, PORT * (ports[b.id] + 1))
    heights = {c: sum(b.height + GAP for b in boxes if b.column == c) - GAP for c in COLUMNS}
    total = max(heights.values())
    for column, x in COLUMNS.items():
        y = TOP + (total - heights[column]) // 2
        for b in (b for b in boxes if b.column == column):
            b.x, b.y = x, y
            y += b.height + GAP
    where = {b.id: b for b in boxes}
    centre = {b.id: b.y + b.height / 2 for b in boxes}
    # each edge leaves and enters at its own port, ordered by the far end's height: no two share a point
    at: dict[tuple[str, str], float] = {}
    for b in boxes:
        mine = sorted((e for e in edges if b.id in (e.source, e.target)),
                      key=lambda e: centre[e.target if e.source == b.id else e.source])
        for i, e in enumerate(mine):
            at[(b.id, e.source + ">" + e.target)] = b.y + b.height * (i + 1) / (len(mine) + 1)
    for e in edges:
        s, t = where[e.source], where[e.target]
        name = e.source + ">" + e.target
        x1, y1, x2, y2 = s.x + s.width, at[(s.id, name)], t.x, at[(t.id, name)]
        # a straight stub at each port; the label rides on the stub beside the middle column
        into_middle = s.column == "network"
        out_stub, in_stub = (24, STUB) if into_middle else (STUB, 24)
        e.points = ((x1, y1), (x1 + out_stub, y1), (x2 - in_stub, y2), (x2, y2))
        e.label_at = (x2 - 4, y2 - 4) if into_middle else (x1 + 4, y1 - 4)
        e.anchor = "end" if into_middle else "start"
    headings = [(COLUMNS["network"], "networks, endpoints, security groups"), (COLUMNS["asset"], "assets and keys"),
                (COLUMNS["principal"], "principals")]
    return Picture(WIDTH, TOP + total + 20, boxes, edges, headings)
