"""Give generic statements their meaning: the statement forms of .slp.

Each declaration kind is described once, as data (`FORMS`): which attributes its
block takes, what arguments each attribute has, and which are required. Errors
name the form and suggest the nearest keyword, so authors rarely need the docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import ast
from slpc.diagnostics import Diagnostic, Span, did_you_mean, error
from .syntax import Stmt, Tok


class _Bad(Exception):
    """An attribute whose arguments do not fit; the diagnostic is already recorded."""


_KIND_WORDS = {"NAME": "a name", "STRING": "a quoted string", "NUMBER": "a number",
               "LIST": "a list", "COMMA": "`,`"}


def _describe(tok: Tok) -> str:
    if tok.kind == "NAME":
        return f"`{tok.text}`"
    if tok.kind == "STRING":
        return f'"{tok.text}"'
    return _KIND_WORDS.get(tok.kind, tok.kind)


class _Args:
    """A cursor over one statement's arguments that reports what it expected."""

    def __init__(self, stmt: Stmt, diags: list[Diagnostic]):
        self.stmt, self.args, self.i, self.diags = stmt, stmt.args, 0, diags

    def _fail(self, what: str, hint: str | None = None) -> _Bad:
        kw = self.stmt.keyword.text
        if self.i < len(self.args):
            tok = self.args[self.i]
            self.diags.append(error("E112", f"`{kw}` expects {what} here, found {_describe(tok)}",
                                    tok.span, hint))
        else:
            end = self.args[-1].span if self.args else self.stmt.keyword.span
            at = Span(end.file, end.end_line, end.end_col, end.end_line, end.end_col + 1)
            self.diags.append(error("E112", f"`{kw}` expects {what} after this", at, hint))
        return _Bad()

    def peek(self, kind: str, text: str | None = None) -> bool:
        if self.i >= len(self.args):
            return False
        tok = self.args[self.i]
        return tok.kind == kind and (text is None or tok.text == text)

    def take(self, kind: str, what: str | None = None, hint: str | None = None) -> Tok:
        if not self.peek(kind):
            raise self._fail(what or _KIND_WORDS[kind], hint)
        self.i += 1
        return self.args[self.i - 1]

    def word(self, text: str, hint: str | None = None) -> Tok:
        if not self.peek("NAME", text):
            raise self._fail(f"`{text}`", hint)
        self.i += 1
        return self.args[self.i - 1]

    def end(self) -> None:
        if self.i < len(self.args):
            raise self._fail("nothing more")

    # -- typed pieces ------------------------------------------------------- #
    def string(self, what: str = "a quoted string") -> ast.Str:
        tok = self.take("STRING", what, 'put the value in double quotes, e.g. "value"')
        return ast.Str(tok.text, tok.span)

    def name(self, what: str = "a name") -> ast.Name:
        tok = self.take("NAME", what)
        return ast.Name(tok.text, tok.span)

    def names(self, what: str = "a list of names") -> tuple[ast.Name, ...]:
        if self.peek("NAME"):
            return (self.name(),)
        tok = self.take("LIST", what, "write a list as [a, b]")
        out = []
        for item in tok.items:
            if item.kind != "NAME":
                self.diags.append(error("E112", f"expected a name in this list, found {_describe(item)}",
                                        item.span, "names are written without quotes"))
                raise _Bad()
            out.append(ast.Name(item.text, item.span))
        return tuple(out)

    def strings(self, what: str = "a list of quoted strings") -> tuple[ast.Str, ...]:
        if self.peek("STRING"):
            return (self.string(),)
        tok = self.take("LIST", what, 'write a list as ["a", "b"]')
        out = []
        for item in tok.items:
            if item.kind != "STRING":
                self.diags.append(error("E112", f"expected a quoted string in this list, found {_describe(item)}",
                                        item.span, "put each value in double quotes"))
                raise _Bad()
            out.append(ast.Str(item.text, item.span))
        return tuple(out)


# --------------------------------------------------------------------------- #
# Block attributes: name -> (field, reader, repeatable)


def _object_lock(a: _Args) -> ast.ObjectLock:
    start = a.args[0].span if a.args else a.stmt.keyword.span
    mode = a.name("a lock mode (`governance` or `compliance`)")
    days = a.take("NUMBER", "a number of days")
    end = a.word("days", "write the period as `N days`")
    return ast.ObjectLock(mode, int(days.text), start.to(end.span))


def _number(a: _Args) -> ast.Number:
    tok = a.take("NUMBER", "a number")
    return ast.Number(int(tok.text), tok.span)


def _duration(a: _Args) -> ast.Duration:
    start = a.args[0].span if a.args else a.stmt.keyword.span
    amount = a.take("NUMBER", "a number")
    unit = a.name("a unit (`seconds`, `minutes` or `hours`)")
    return ast.Duration(int(amount.text), unit, start.to(unit.span))


def _endpoint(a: _Args) -> ast.VpcEndpoint:
    service = a.name("a service name such as `s3` or `ecr.dkr`")
    vpce = a.string("a VPC endpoint id in quotes")
    kind = a.name("`gateway` or `interface`") if a.i < len(a.args) and not a.peek("NAME", "region") else None
    region = None
    if a.i < len(a.args):
        a.word("region", 'write a cross-region endpoint\'s service region as `region "eu-west-1"`')
        region = a.string('a region in quotes, e.g. "eu-west-1"')
    return ast.VpcEndpoint(service, vpce, service.span.to((region or kind or vpce).span), kind, region)


def _flow_logs(a: _Args) -> ast.FlowLogs:
    start = a.args[0].span if a.args else a.stmt.keyword.span
    group = a.string("the log group's name in quotes")
    a.word("key", 'write `flow_logs "LOG-GROUP" key KEY`')
    key = a.name("the key that encrypts the log group")
    retention = None
    if a.i < len(a.args):
        a.word("retain", "write the retention as `retain N days`")
        amount = a.take("NUMBER", "a number of days")
        unit = a.name("`days`")
        retention = ast.Duration(int(amount.text), unit, amount.span.to(unit.span))
    return ast.FlowLogs(group, key, retention, start.to((retention or key).span))


def _way(a: _Args) -> ast.Way:
    kind = a.name("how the role is obtained: `service`, `eks_pod`, `irsa`, `github`, `identity_center`, "
                  "`role` or `account`")
    subject: ast.Name | ast.Str = a.name("a name") if a.peek("NAME") else a.string("a name or a quoted string")
    qualifiers = []
    while a.i < len(a.args):
        word = a.name('a qualifier such as `namespace "..."`')
        qualifiers.append((word, a.string(f"the {word.text} in quotes")))
    end = qualifiers[-1][1].span if qualifiers else subject.span
    return ast.Way(kind, subject, tuple(qualifiers), kind.span.to(end))


def _pass(a: _Args) -> ast.Pass:
    passer = a.name("the role that may pass this role")
    a.word("to", "write `passed_by ROLE to SERVICE`")
    service = a.name("a service such as `sagemaker`")
    return ast.Pass(passer, service, passer.span.to(service.span))


def _authorizer(a: _Args) -> ast.Authorizer:
    kind = a.name("an authorizer kind (`cognito`)")
    pool = a.string("the Cognito user pool's ARN in quotes")
    a.word("scopes", 'write `scopes ["RESOURCE-SERVER/SCOPE", ...]` after the pool')
    scopes = a.strings("a list of OAuth scopes in quotes")
    a.word("from", "say where the pool's users may call from: `from NETWORK, ...`")
    networks = [a.name("a network name")]
    while a.peek("COMMA"):
        a.take("COMMA")
        networks.append(a.name("a network name"))
    return ast.Authorizer(kind, pool, scopes, tuple(networks), kind.span.to(networks[-1].span))


@dataclass(frozen=True)
class Attr:
    field: str
    read: Callable[[_Args], object]
    repeatable: bool = False


@dataclass(frozen=True)
class Form:
    """How one declaration kind is written."""

    keyword: str
    node: type
    name_kind: str  # "NAME" or "STRING"
    attrs: dict[str, Attr]
    required: tuple[str, ...]


FORMS: dict[str, Form] = {
    f.keyword: f for f in (
        Form("deployment", ast.Deployment, "STRING", {
            "partition": Attr("partition", _Args.string),
            "account": Attr("account", _Args.string),
            "org": Attr("org", _Args.string),
            "regions": Attr("regions", _Args.strings),
            "guardrails": Attr("guardrails", _Args.names),
            "managed_policies_per_role": Attr("managed_policies", _number),
            "management_account": Attr("management_account", _Args.string),
            "flow_logs": Attr("flow_logs", _flow_logs),
        }, ("account", "regions")),
        Form("network", ast.Network, "NAME", {
            "account": Attr("account", _Args.string),
            "vpc": Attr("vpc", _Args.string),
            "endpoint": Attr("endpoints", _endpoint, repeatable=True),
            "cidr": Attr("cidrs", _Args.strings, repeatable=True),
            "subnets": Attr("subnets", _Args.strings),
            "security_groups": Attr("security_groups", _Args.strings),
            "endpoint_policies": Attr("endpoint_policies", _Args.name),
            "region": Attr("region", _Args.string),
            "clients": Attr("clients", _Args.strings),
        }, ()),
        Form("key", ast.Key, "NAME", {
            "arn": Attr("arn", _Args.string),
            "admins": Attr("admins", _Args.names),
            "key_policy": Attr("key_policy", _Args.name),
        }, ("arn",)),
        Form("bucket", ast.Bucket, "NAME", {
            "name": Attr("bucket", _Args.string),
            "encrypt": Attr("encrypt", _Args.name),
            "object_lock": Attr("object_lock", _object_lock),
            "audit": Attr("audit", _Args.names),
            "admins": Attr("admins", _Args.names),
            "breakglass": Attr("breakglass", _Args.names),
            "signature_age": Attr("signature_age", _duration),
            "access_points": Attr("access_points", _Args.name),
        }, ("name",)),
        Form("repository", ast.Repository, "NAME", {
            "name": Attr("repository", _Args.string),
            "region": Attr("region", _Args.string),
            "admins": Attr("admins", _Args.names),
        }, ("name",)),
        Form("endpoint", ast.Endpoint, "NAME", {
            "sagemaker": Attr("sagemaker", _Args.string),
            "apigateway": Attr("apigateway", _Args.string),
            "stage": Attr("stage", _Args.string),
            "region": Attr("region", _Args.string),
            "backend": Attr("backend", _Args.name),
            "integration_role": Attr("integration_role", _Args.name),
            "authorizer": Attr("authorizer", _authorizer),
        }, ()),
    )
}

# A role is a line (`role NAME "ARN"`) with an optional block saying who may obtain it.
ROLE_FORM = Form("role", ast.Role, "NAME", {
    "assumed_by": Attr("assumed_by", _way, repeatable=True),
    "passed_by": Attr("passed_by", _pass, repeatable=True),
    "admins": Attr("admins", _Args.names),
    "session": Attr("session", _duration),
}, ())

LINE_FORMS = ("role", "allow")
KEYWORDS = tuple(FORMS) + LINE_FORMS


def _block(stmt: Stmt, form: Form, diags: list[Diagnostic]) -> ast.Declaration | None:
    a = _Args(stmt, diags)
    try:
        if form.name_kind == "STRING":
            name = a.string(f"the {form.keyword}'s name in quotes")
        else:
            name = a.name(f"the {form.keyword}'s name")
        a.end()
    except _Bad:
        return None
    if stmt.block is None:
        diags.append(error("E115", f"`{form.keyword} {name_text(name)}` needs a {{ ... }} block",
                           stmt.span, f"write `{form.keyword} {name_text(name)} {{` and its attributes, then `}}`"))
        return None
    fields = _attributes(stmt, form, name, diags)
    return None if fields is None else form.node(name=name, span=stmt.span, **fields)


def _attributes(stmt: Stmt, form: Form, name: ast.Name | ast.Str,
                diags: list[Diagnostic]) -> dict[str, object] | None:
    """The fields a block's attribute lines give, or None after an error."""
    fields: dict[str, object] = {}
    seen: dict[str, Tok] = {}
    ok = True
    for attr_stmt in stmt.block:
        kw = attr_stmt.keyword
        attr = form.attrs.get(kw.text)
        if attr is None:
            hint = did_you_mean(kw.text, form.attrs) or f"a {form.keyword} takes: {', '.join(form.attrs)}"
            diags.append(error("E111", f"unknown attribute `{kw.text}` in {form.keyword} block", kw.span, hint))
            ok = False
            continue
        if attr_stmt.block is not None:
            diags.append(error("E115", f"`{kw.text}` takes no block", attr_stmt.span))
            ok = False
            continue
        if kw.text in seen and not attr.repeatable:
            diags.append(error("E113", f"`{kw.text}` is given twice in this {form.keyword}", kw.span,
                               f"the first is at line {seen[kw.text].span.line}; keep one"))
            ok = False
            continue
        seen[kw.text] = kw
        args = _Args(attr_stmt, diags)
        try:
            value = attr.read(args)
            args.end()
        except _Bad:
            ok = False
            continue
        if attr.repeatable:
            prior = fields.get(attr.field, ())
            fields[attr.field] = prior + (value if isinstance(value, tuple) else (value,))
        else:
            fields[attr.field] = value
    for req in form.required:
        if ok and req not in seen:  # after another error here, a missing one is likely its echo
            diags.append(error("E114", f"{form.keyword} `{name_text(name)}` is missing `{req}`",
                               name.span, f"add a line `{req} ...` inside the block"))
            ok = False
    return fields if ok else None


def name_text(name: ast.Name | ast.Str) -> str:
    return name.text if isinstance(name, ast.Name) else f'"{name.value}"'


def _role(stmt: Stmt, diags: list[Diagnostic]) -> ast.Role | None:
    a = _Args(stmt, diags)
    try:
        name = a.name("the role's name")
        arn = a.string("the role's ARN in quotes")
        a.end()
    except _Bad:
        return None
    if stmt.block is None:
        return ast.Role(name, arn, span=stmt.span)
    fields = _attributes(stmt, ROLE_FORM, name, diags)
    return None if fields is None else ast.Role(name, arn, block=True, span=stmt.span, **fields)


def _allow(stmt: Stmt, diags: list[Diagnostic]) -> ast.Allow | None:
    a = _Args(stmt, diags)
    try:
        principal = a.name("a principal (a declared role)")
        verb = a.name("a verb such as `read`, `write`, `pull` or `invoke`")
        asset = a.name("an asset (a declared bucket, repository or endpoint)")
        prefix = a.string() if a.peek("STRING") else None
        a.word("from", "every grant says where it may be used: `from NETWORK, ...`")
        networks = [a.name("a network name")]
        while a.peek("COMMA"):
            a.take("COMMA")
            networks.append(a.name("a network name"))
        until = None
        if a.peek("NAME", "until"):
            a.word("until")
            until = a.string('an instant in quotes, e.g. "2027-06-30T00:00:00Z"')
        a.end()
    except _Bad:
        return None
    if stmt.block is not None:
        diags.append(error("E115", "`allow` takes no block", stmt.span))
        return None
    return ast.Allow(principal, verb, asset, tuple(networks), prefix, until, stmt.span)


def shape(statements: list[Stmt], diags: list[Diagnostic]) -> list[ast.Declaration]:
    """Typed declarations for the statements that are well formed."""
    out: list[ast.Declaration] = []
    for stmt in statements:
        kw = stmt.keyword.text
        decl: ast.Declaration | None
        if kw in FORMS:
            decl = _block(stmt, FORMS[kw], diags)
        elif kw == "role":
            decl = _role(stmt, diags)
        elif kw == "allow":
            decl = _allow(stmt, diags)
        else:
            hint = did_you_mean(kw, KEYWORDS) or f"a declaration starts with one of: {', '.join(KEYWORDS)}"
            diags.append(error("E110", f"unknown declaration `{kw}`", stmt.keyword.span, hint))
            continue
        if decl is not None:
            out.append(decl)
    return out
