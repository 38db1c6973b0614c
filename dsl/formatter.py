"""The canonical text of a spec (AST -> .slp), keeping every comment.

Rules: one blank line between declarations, except inside a run of `role` or
`allow` lines, whose columns are aligned; block attributes in a fixed order with
their values aligned (in a network, endpoint ids align by service). Comments stay
with the line they precede or end.
"""

from __future__ import annotations

from collections import deque

from . import ast

INDENT = "  "


def quote(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029":
            # control characters and Unicode line separators stay visible
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _names(names: tuple[ast.Name, ...]) -> str:
    return "[" + ", ".join(n.text for n in names) + "]"


def _strs(values: tuple[ast.Str, ...]) -> str:
    return "[" + ", ".join(quote(v.value) for v in values) + "]"


class _Comments:
    """Hands out source comments in order as the printer passes their lines."""

    def __init__(self, comments: tuple[ast.Comment, ...]):
        self.queue = deque(sorted(comments, key=lambda c: (c.span.line, c.span.col)))

    def before(self, line: int, indent: str) -> list[str]:
        out: list[str] = []
        last = None
        while self.queue and self.queue[0].span.line < line:
            c = self.queue.popleft()
            if last is not None and c.span.line - last > 1:
                out.append("")
            out.append(indent + c.text)
            last = c.span.line
        if last is not None and line - last > 1 and line != 10**9:
            out.append("")
        return out

    def trailing(self, line: int) -> str:
        parts = []
        while self.queue and self.queue[0].span.line == line:
            parts.append(self.queue.popleft().text)
        return ("  " + " ".join(parts)) if parts else ""


def _block_lines(decl: ast.Declaration) -> list[tuple[int, str, str]]:
    """(anchor line, key, value) for each attribute of a block declaration."""
    rows: list[tuple[int, str, str]] = []

    def add(key: str, node, text: str) -> None:
        rows.append((node.span.line, key, text))

    if isinstance(decl, ast.Deployment):
        if decl.partition:
            add("partition", decl.partition, quote(decl.partition.value))
        add("account", decl.account, quote(decl.account.value))
        if decl.org:
            add("org", decl.org, quote(decl.org.value))
        if decl.management_account:
            add("management_account", decl.management_account, quote(decl.management_account.value))
        add("regions", decl.regions[0] if decl.regions else decl, _strs(decl.regions))
        if decl.guardrails is not None:
            add("guardrails", decl.guardrails[0] if decl.guardrails else decl, _names(decl.guardrails))
        if decl.managed_policies is not None:
            add("managed_policies_per_role", decl.managed_policies, str(decl.managed_policies.value))
        if decl.flow_logs is not None:
            fl = decl.flow_logs
            keep = f" retain {fl.retention.amount} {fl.retention.unit.text}" if fl.retention else ""
            add("flow_logs", fl, f"{quote(fl.log_group.value)} key {fl.key.text}{keep}")
    elif isinstance(decl, ast.Key):
        add("arn", decl.arn, quote(decl.arn.value))
        if decl.admins:
            add("admins", decl.admins[0], _names(decl.admins))
        if decl.key_policy:
            add("key_policy", decl.key_policy, decl.key_policy.text)
    elif isinstance(decl, ast.Bucket):
        add("name", decl.bucket, quote(decl.bucket.value))
        if decl.encrypt:
            add("encrypt", decl.encrypt, decl.encrypt.text)
        if decl.object_lock:
            lock = decl.object_lock
            add("object_lock", lock, f"{lock.mode.text} {lock.days} days")
        if decl.audit:
            text = decl.audit[0].text if len(decl.audit) == 1 else _names(decl.audit)
            add("audit", decl.audit[0], text)
        for key in ("admins", "breakglass"):
            names = getattr(decl, key)
            if names:
                add(key, names[0], _names(names))
        if decl.signature_age:
            age = decl.signature_age
            add("signature_age", age, f"{age.amount} {age.unit.text}")
        if decl.access_points:
            add("access_points", decl.access_points, decl.access_points.text)
    elif isinstance(decl, ast.Repository):
        add("name", decl.repository, quote(decl.repository.value))
        if decl.region:
            add("region", decl.region, quote(decl.region.value))
        if decl.admins:
            add("admins", decl.admins[0], _names(decl.admins))
    elif isinstance(decl, ast.Role):
        for way in decl.assumed_by:
            subject = way.subject.text if isinstance(way.subject, ast.Name) else quote(way.subject.value)
            text = " ".join([way.kind.text, subject] + [f"{w.text} {quote(v.value)}" for w, v in way.qualifiers])
            add("assumed_by", way, text)
        for p in decl.passed_by:
            add("passed_by", p, f"{p.passer.text} to {p.service.text}")
        if decl.admins:
            add("admins", decl.admins[0], _names(decl.admins))
        if decl.session:
            add("session", decl.session, f"{decl.session.amount} {decl.session.unit.text}")
    elif isinstance(decl, ast.Endpoint):
        for key in ("sagemaker", "apigateway", "stage"):
            value = getattr(decl, key)
            if value:
                add(key, value, quote(value.value))
        if decl.region:
            add("region", decl.region, quote(decl.region.value))
        for key in ("backend", "integration_role"):
            value = getattr(decl, key)
            if value:
                add(key, value, value.text)
        if decl.authorizer:
            z = decl.authorizer
            add("authorizer", z, f"{z.kind.text} {quote(z.pool.value)} scopes {_strs(z.scopes)} from "
                + ", ".join(n.text for n in z.networks))
    return rows


def _network_lines(net: ast.Network) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    if net.account:
        rows.append((net.account.span.line, f"account {quote(net.account.value)}"))
    if net.vpc:
        rows.append((net.vpc.span.line, f"vpc {quote(net.vpc.value)}"))
    if net.region:
        rows.append((net.region.span.line, f"region {quote(net.region.value)}"))
    width = max((len(e.service.text) for e in net.endpoints), default=0)
    for e in net.endpoints:
        kind = f" {e.type.text}" if e.type else ""
        kind += f" region {quote(e.region.value)}" if e.region else ""
        rows.append((e.span.line, f"endpoint {e.service.text.ljust(width)} {quote(e.id.value)}{kind}"))
    for c in net.cidrs:
        rows.append((c.span.line, f"cidr {quote(c.value)}"))
    for key in ("clients", "subnets", "security_groups"):
        values = getattr(net, key)
        if values:
            rows.append((values[0].span.line, f"{key} {_strs(values)}"))
    if net.endpoint_policies:
        rows.append((net.endpoint_policies.span.line, f"endpoint_policies {net.endpoint_policies.text}"))
    return rows


def _header(decl: ast.Declaration) -> str:
    if isinstance(decl, ast.Role):
        return f"role {decl.name.text} {quote(decl.arn.value)} {{"
    kind = {ast.Deployment: "deployment", ast.Network: "network", ast.Key: "key",
            ast.Bucket: "bucket", ast.Repository: "repository", ast.Endpoint: "endpoint"}[type(decl)]
    name = quote(decl.name.value) if isinstance(decl, ast.Deployment) else decl.name.text
    return f"{kind} {name} {{"


def _allow_cells(a: ast.Allow) -> tuple[str, str, str, str]:
    asset = a.asset.text + (f" {quote(a.prefix.value)}" if a.prefix else "")
    rest = "from " + ", ".join(n.text for n in a.networks)
    if a.until:
        rest += f" until {quote(a.until.value)}"
    return a.principal.text, a.verb.text, asset, rest


def _runs(decls: tuple[ast.Declaration, ...]) -> list[list[ast.Declaration]]:
    """Group consecutive role lines (roles without a block) and consecutive allow lines."""
    runs: list[list[ast.Declaration]] = []
    line = lambda d: isinstance(d, ast.Allow) or (isinstance(d, ast.Role) and not d.block)
    for d in decls:
        if runs and line(d) and line(runs[-1][0]) and type(runs[-1][0]) is type(d):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def format_spec(spec: ast.Spec) -> str:
    comments = _Comments(spec.comments)
    out: list[str] = []
    for i, run in enumerate(_runs(spec.declarations)):
        if i:
            out.append("")
        first = run[0]
        if isinstance(first, ast.Role) and not first.block:
            width = max(len(r.name.text) for r in run)
            for r in run:
                out += comments.before(r.span.line, "")
                out.append(f"role {r.name.text.ljust(width)} {quote(r.arn.value)}" + comments.trailing(r.span.line))
        elif isinstance(first, ast.Allow):
            cells = [_allow_cells(a) for a in run]
            widths = [max(len(c[k]) for c in cells) for k in range(3)]
            for a, c in zip(run, cells):
                out += comments.before(a.span.line, "")
                line = " ".join(c[k].ljust(widths[k]) for k in range(3)) + " " + c[3]
                out.append("allow " + line + comments.trailing(a.span.line))
        else:
            out += comments.before(first.span.line, "")
            out.append(_header(first) + comments.trailing(first.span.line))
            if isinstance(first, ast.Network):
                rows = _network_lines(first)
            else:
                block = _block_lines(first)
                width = max((len(k) for _, k, _ in block), default=0)
                rows = [(line, f"{k.ljust(width)} {v}") for line, k, v in block]
            # Attach comments to attributes in source order, then print in canonical order,
            # so a comment stays with its attribute when the attributes are reordered.
            attached: dict[int, tuple[list[str], str]] = {}
            for line in sorted({line for line, _ in rows}):
                attached[line] = ([c for c in comments.before(line, INDENT) if c], comments.trailing(line))
            for line, text in rows:
                lead, tail = attached.pop(line, ([], ""))
                out += lead
                out.append(INDENT + text + tail)
            out += [c for c in comments.before(first.span.end_line, INDENT) if c]
            out.append("}" + comments.trailing(first.span.end_line))
    rest = comments.before(10**9, "")
    if rest:
        out += ([""] if out else []) + [c for c in rest if c or out]
    return "\n".join(out).strip("\n") + "\n" if out else ""
