"""Routes of an API Gateway stage: the `"METHOD /path"` string of an `invoke` grant.

A route is kept in a grant's `prefix` field in canonical form (`"POST /v1/chat"`,
`"ANY /v1/*"`); the empty string is the whole stage (every method and path), and
`"ANY /*"` is written as that. `/v1/chat` names that path alone, as in an
execute-api ARN; `/v1/chat/*` names the path and everything under it.

A request names its route in its resource, `{stage ARN}/{METHOD}{path}`; the
functions here say which such resources a route covers, as ARN patterns (for the
policies) and as a predicate (for the spec's meaning), from one definition.
"""

from __future__ import annotations

import re
from typing import NamedTuple

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
ANY = "ANY"
SUBTREE = "/*"
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


class Route(NamedTuple):
    method: str  # one of METHODS, or ANY
    path: str  # "/" or "/a/b", never ending in "/" nor holding a wildcard
    subtree: bool  # the path and everything under it

    def text(self) -> str:
        if self.method == ANY and self.path == "/" and self.subtree:
            return ""
        tail = SUBTREE if self.subtree else ""
        return f"{self.method} {'' if self.path == '/' and self.subtree else self.path}{tail}"

    def methods(self) -> tuple[str, ...]:
        return METHODS if self.method == ANY else (self.method,)

    def under(self) -> str:
        """What the resources strictly under the path start with (after the method)."""
        return "/" if self.path == "/" else self.path + "/"


def parse(text: str) -> Route:
    """The route of a canonical (already checked) string; "" is the whole stage."""
    if not text:
        return Route(ANY, "/", True)
    method, _, path = text.partition(" ")
    subtree = path.endswith(SUBTREE)
    path = path.removesuffix(SUBTREE) if subtree else path
    return Route(method, path or "/", subtree)


def problem(text: str) -> tuple[str, str, str] | None:
    """(code, message, hint) for a route string slpc refuses; an unknown method's hint
    lists the methods (the checker offers the nearest instead when there is one)."""
    method, sep, path = text.partition(" ")
    if method not in METHODS + (ANY,):
        return "E340", f"unknown method `{method}`", "methods: " + ", ".join(METHODS + (ANY,))
    if not sep or not path.startswith("/"):
        return "E341", "an API path must start with `/`", f'write "{method} /path", e.g. "{method} /v1/chat"'
    stem = path.removesuffix(SUBTREE)
    if "*" in stem or "?" in stem:
        return "E343", "a wildcard is only allowed as a trailing `/*`", \
            "end the path with `/*` to cover it and everything under it"
    if stem == "/":  # its ARN would end in the method's `/`, an empty resource path
        return "E342", "the root path alone cannot be granted", \
            f'grant "{method} /*" (the root and everything under it), or name the paths under it'
    if stem == "":
        return None
    for seg in stem.split("/")[1:]:
        if not seg:
            return "E342", "an API path cannot end in `/` or hold `//`", \
                "write the resource path as API Gateway shows it, e.g. /v1/chat"
        if not _SEGMENT.fullmatch(seg):
            bad = next(c for c in seg if not _SEGMENT.fullmatch(c))
            hint = ("a path parameter matches any value: write `/*` in its place" if bad in "{}+" else
                    "a path segment holds letters, digits and - . _ ~")
            return "E342", f"`{bad}` is not allowed in an API path", hint
    return None


def canonical(text: str) -> str:
    """The stored form of a checked route string."""
    return parse(text).text()


def matches(text: str) -> tuple[tuple[str, bool], ...]:
    """What a route covers, as (start, whole) pairs over a request's `METHOD/path` (its
    resource after the stage ARN and `/`): whole, the request is `start` itself; else
    any request beginning with `start`. The one definition the policies' patterns, the
    spec's meaning and its Z3 form are read from."""
    if not text:
        return (("", False),)
    r = parse(text)
    out: list[tuple[str, bool]] = []
    for m in r.methods():
        if r.path == "/" and r.subtree:
            out.append((f"{m}/", False))
            continue
        out.append((f"{m}{r.path}", True))
        if r.subtree:
            out.append((f"{m}{r.under()}", False))
    return tuple(out)


def patterns(stage_arn: str, text: str) -> tuple[str, ...]:
    """The execute-api ARN patterns of a route. `*` comes only after a fixed method and
    path: for ANY each method is named, since a `*` in the method's place would also
    match a longer path ending in this one."""
    return tuple(f"{stage_arn}/{start}" + ("" if whole else "*") for start, whole in matches(text))


def covers(text: str, route: str) -> bool:
    """Whether the route `text` covers a request whose resource is `{stage ARN}/{route}`."""
    return any(route == start if whole else route.startswith(start) for start, whole in matches(text))


def contains(outer: str, inner: str) -> bool:
    """Every request `inner` covers, `outer` covers too."""
    if not outer:
        return True
    o, i = parse(outer), parse(inner)
    if not set(i.methods()) <= set(o.methods()):
        return False
    return i.path == o.path and (o.subtree or not i.subtree) or (o.subtree and i.path.startswith(o.under()))


def overlap(a: str, b: str) -> bool:
    """Some request is covered by both routes."""
    if not a or not b:
        return True
    x, y = parse(a), parse(b)
    if not set(x.methods()) & set(y.methods()):
        return False
    return contains(_path_only(a), _path_only(b)) or contains(_path_only(b), _path_only(a))


def _path_only(text: str) -> str:
    r = parse(text)
    return Route(ANY, r.path, r.subtree).text()
