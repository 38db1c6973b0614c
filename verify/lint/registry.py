"""The check registry and what every check shares: findings, context, helpers.

A check is a small function registered with ``@check(id, type, doc)``. It reads a
:class:`Context` and yields ``(json_path, message)`` pairs; the registry turns
them into :class:`Finding` objects, filling in the statement index and Sid from
the path. Ids are IAM Access Analyzer issue codes wherever one exists, so
findings read the same offline and online.

A check that judges one entry of a statement on its own (an action, a resource,
a condition) says so with ``scope=``: it is then a function of that entry and
the catalogue alone, returning messages, and the registry asks it once per
distinct entry and reuses the answer wherever the entry recurs (see `ENTRIES`).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Hashable, Iterable, Iterator

from slpc.diagnostics import ERROR, NOTE, WARNING
from slpc.verify.catalogue import Catalogue
from slpc.policy.matching import has_wildcard, wildcard_match

POLICY_TYPES = ("identity", "resource", "scp", "rcp", "vpc-endpoint")
# A role's trust policy: its resource policy, with the role as the resource (Access Analyzer's name).
ROLE_TRUST = "AWS::IAM::AssumeRolePolicyDocument"
RESOURCE_TYPES = ("AWS::S3::Bucket", "AWS::S3::AccessPoint", "AWS::KMS::Key", "AWS::ECR::Repository", "AWS::ApiGateway::RestApi",
                  ROLE_TRUST)


class FindingType(str, Enum):
    ERROR = "ERROR"
    SECURITY_WARNING = "SECURITY_WARNING"
    WARNING = "WARNING"
    SUGGESTION = "SUGGESTION"

    @property
    def level(self) -> str:
        """The finding type in slpc's one severity vocabulary (`slpc.diagnostics.LEVELS`)."""
        return LEVEL_OF[self]


# Access Analyzer's finding types as slpc levels: what blocks a build is an error.
LEVEL_OF = {FindingType.ERROR: ERROR, FindingType.SECURITY_WARNING: ERROR,
            FindingType.WARNING: WARNING, FindingType.SUGGESTION: NOTE}


@dataclass(frozen=True)
class Finding:
    issue_code: str
    finding_type: FindingType
    path: str
    message: str
    statement_index: int | None = None
    sid: str | None = None

    def to_json(self) -> dict:
        return {
            "issueCode": self.issue_code,
            "findingType": self.finding_type.value,
            "path": self.path,
            "statementIndex": self.statement_index,
            "sid": self.sid,
            "message": self.message,
        }


# The elements that hold a string or a list of strings.
STRING_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource")


class Stmt:
    """One statement object with where it sits in the document.

    A plain class, not a dataclass: a large build makes tens of thousands, and the
    checks call `get` over a million times, so it is the body's own (C) `dict.get`."""

    __slots__ = ("index", "path", "body", "get", "strings", "items")

    def __init__(self, index: int, path: str, body: dict):
        self.index = index
        self.path = path
        self.body = body
        self.get: Callable[..., Any] = body.get
        # element -> the strings of a string-or-list element (as `items`, without the
        # paths, which only a finding needs): what most checks read, and a key for memos
        self.strings: dict[str, tuple[str, ...]] = {e: _strings(body.get(e)) for e in STRING_ELEMENTS}
        self.items: dict[str, list[tuple[str, str]]] = {}  # see `items`

    def __repr__(self) -> str:
        return f"Stmt({self.index}, {self.path!r}, {self.body!r})"


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:  # the element is absent (or null)
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        for v in value:
            if not isinstance(v, str):  # a malformed list: its strings
                return tuple(v for v in value if isinstance(v, str))
        return tuple(value)
    return ()


@dataclass
class Context:
    text: str
    doc: Any  # the decoded JSON; None when the text is not JSON
    policy_type: str
    resource_type: str | None
    catalogue: Catalogue
    syntax_error: str | None = None
    statements: list[Stmt] = field(default_factory=list)
    sids: dict[int, Any] = field(default_factory=dict)
    # what several checks of one policy compute alike (e.g. the hits of a walk over its entries)
    shared: dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raw = self.doc.get("Statement") if isinstance(self.doc, dict) else None
        if isinstance(raw, dict):
            self.statements = [Stmt(0, "$.Statement", raw)]
        elif isinstance(raw, list):
            self.statements = [
                Stmt(i, f"$.Statement[{i}]", s) for i, s in enumerate(raw) if isinstance(s, dict)
            ]
        self.sids = {s.index: s.get("Sid") for s in self.statements}


Hits = Iterable[tuple[str, str]]


# What a check reads. A POLICY check reads the whole Context and yields (path, message).
# The others read one entry of one statement and the catalogue, nothing else (that is
# all they are given), and yield messages, each a finding at the entry's path.
POLICY = "policy"
ACTION = "action"  # each string of Action or NotAction: judge(catalogue, action)
RESOURCE = "resource"  # each string of Resource or NotResource: judge(catalogue, resource)
CONDITION = "condition"  # each key of a well-formed Condition operator IAM defines:
#                          judge(catalogue, Operator, key, values as texts)
CONDITION_KEY = "condition key"  # the same, without the values (which vary far more):
#                                  judge(catalogue, Operator, key)


@dataclass(frozen=True)
class Check:
    id: str
    finding_type: FindingType
    doc: str
    run: Callable[[Context], Hits]
    access_analyzer: bool  # False: slpc's own code, no Access Analyzer equivalent
    scope: str = POLICY
    judge: Callable[..., Iterable[str]] | None = None  # an entry-scoped check's own function
    policy_types: frozenset[str] | None = None  # the only policy types it can find anything in; None: all
    resource_types: frozenset[str] | None = None  # the only resource types (of resource policies) it reads; None: all


REGISTRY: dict[str, Check] = {}
# scope -> its checks, in registration order
_JUDGES: dict[str, list[Check]] = {}


def check(id: str, finding_type: FindingType, doc: str, *, access_analyzer: bool = True, scope: str = POLICY,
          policy_types: Iterable[str] | None = None, resource_types: Iterable[str] | None = None):
    """Register the decorated function as check ``id``; with `policy_types`, it is run
    only on policies of those types, with `resource_types` only on resource policies of those."""
    types = None if policy_types is None else frozenset(policy_types)
    resources = None if resource_types is None else frozenset(resource_types)

    def register(fn: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        if types is not None and not types <= set(POLICY_TYPES):
            raise ValueError(f"check {id}: unknown policy types {sorted(types - set(POLICY_TYPES))}")
        if resources is not None and not resources <= set(RESOURCE_TYPES):
            raise ValueError(f"check {id}: unknown resource types {sorted(resources - set(RESOURCE_TYPES))}")
        if scope == POLICY:
            chk = Check(id, finding_type, doc, fn, access_analyzer, policy_types=types, resource_types=resources)
        elif scope in ENTRIES:
            chk = Check(id, finding_type, doc, lambda ctx: entry_hits(ctx).get(id, ()), access_analyzer, scope,
                        fn, types, resources)
            _JUDGES.setdefault(scope, []).append(chk)
            for memos in _MEMOS.values():  # verdicts given without this check are incomplete
                memos.clear()
        else:
            raise ValueError(f"check {id}: unknown scope {scope!r}")
        REGISTRY[id] = chk
        return fn

    return register


_STMT_PATH = re.compile(r"^\$\.Statement(?:\[(\d+)\])?")


def _statement_index(ctx: Context, path: str) -> int | None:
    m = _STMT_PATH.match(path)
    if m is None:
        return None
    if m.group(1) is not None:
        return int(m.group(1))
    return 0 if isinstance(ctx.doc.get("Statement"), dict) else None


def run_check(chk: Check, ctx: Context) -> list[Finding]:
    """The check's findings (a list, not a generator: lint runs ~50 checks per policy
    and most find nothing)."""
    if chk.policy_types is not None and ctx.policy_type not in chk.policy_types:
        return []
    if chk.resource_types is not None and ctx.resource_type not in chk.resource_types:
        return []
    found = []
    for path, message in chk.run(ctx) if chk.judge is None else entry_hits(ctx).get(chk.id, ()):
        index = _statement_index(ctx, path)
        sid = ctx.sids.get(index)
        found.append(Finding(chk.id, chk.finding_type, path, message, index, sid if isinstance(sid, str) else None))
    return found


# --------------------------------------------------------------------------- #
# Helpers for reading loosely-shaped policy JSON without tripping on bad input.


def items(stmt: Stmt, element: str) -> list[tuple[str, str]]:
    """(path, value) for each string in a string-or-list element."""
    found = stmt.items.get(element)
    if found is None:
        value = stmt.get(element)
        if isinstance(value, str):
            found = [(f"{stmt.path}.{element}", value)]
        elif isinstance(value, list):
            found = [(f"{stmt.path}.{element}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)]
        else:
            found = []
        stmt.items[element] = found
    return found


def texts(values: Any) -> tuple[str, ...]:
    """A condition key's values as the texts AWS compares (JSON booleans and numbers included)."""
    if isinstance(values, str):  # the usual case
        return (values,)
    return tuple(v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
                 for v in (values if isinstance(values, list) else [values]))


def covered_entries(values: list[tuple[str, str]], ignore_case: bool) -> Iterator[tuple[str, str]]:
    """(path, covering entry) for each list entry that another entry already matches.

    Of two equal entries only the later is reported; a pattern's own text is
    matched, so ``s3:*`` covers ``s3:Get*``.
    """
    if not any("*" in w or "?" in w for _, w in values):  # then covering is equality: one pass
        first: dict[str, str] = {}
        for path, v in values:
            key = v.lower() if ignore_case else v
            if key in first:
                yield path, first[key]
            else:
                first[key] = v
        return
    for i, (path, v) in enumerate(values):
        for j, (_, w) in enumerate(values):
            same = v.lower() == w.lower() if ignore_case else v == w
            if i != j and (not same or j < i) and covers(w, v, ignore_case):
                yield path, w
                break


def covers(pattern: str, value: str, ignore_case: bool) -> bool:
    """`wildcard_match`, with a prefix test for the usual `prefix*` pattern (an ARN
    with a trailing `*`): compiling a regex for each of the thousands of distinct
    ARN patterns of a large deployment cost more than the rest of the check.
    Ignoring case, the test holds only for ASCII text (a regex ignoring case also
    matches e.g. the Kelvin sign for `k`)."""
    head = pattern[:-1]
    if pattern.endswith("*") and not has_wildcard(head):
        if not ignore_case:
            return value.startswith(head)
        if pattern.isascii() and value.isascii():
            return value.lower().startswith(head.lower())
    return wildcard_match(pattern, value, ignore_case=ignore_case)


# --------------------------------------------------------------------------- #
# Condition operators: what the condition checks and their entries read.

# Each base operator and the key type it compares (Null tests presence of any key).
OPERATOR_TYPES: dict[str, str | None] = {
    **dict.fromkeys(
        ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"),
        "String",
    ),
    **dict.fromkeys(
        ("NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"),
        "Numeric",
    ),
    **dict.fromkeys(
        ("DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"),
        "Date",
    ),
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "IPAddress",
    "NotIpAddress": "IPAddress",
    **dict.fromkeys(("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"), "ARN"),
    "Null": None,
}


@dataclass(frozen=True)
class Operator:
    qualifier: str | None  # ForAllValues | ForAnyValue
    base: str
    if_exists: bool

    @property
    def type(self) -> str | None:
        return OPERATOR_TYPES[self.base]


@lru_cache(maxsize=4096)  # a few dozen operators recur in every policy
def parse_operator(text: str) -> Operator | None:
    """A condition operator's parts; None if IAM does not define it."""
    qualifier, sep, rest = text.partition(":")
    if not sep:
        qualifier, rest = None, text
    elif qualifier not in ("ForAllValues", "ForAnyValue"):
        return None
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists")
    return Operator(qualifier, base, if_exists) if base in OPERATOR_TYPES else None


# --------------------------------------------------------------------------- #
# Entry-scoped checks. A 1,200-team build names each of its ~140 actions in ~850
# statements, each ARN in ~4 and each condition in ~5: their verdicts are looked up.


class Verdicts(dict):
    """entry key -> ((check id, message), ...): what every check of one scope says
    about the entry. A key determines its entry: equal keys, equal entries."""

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def judge(self, catalogue: Catalogue, key: Hashable, entry: tuple) -> tuple[tuple[str, str], ...]:
        found = self[key] = judge(catalogue, self.scope, entry)
        return found


Walk = Callable[[Context, dict[str, Verdicts]], Iterator[tuple[str, tuple]]]


def _strings_of(scope: str, *elements: str) -> Walk:
    def walk(ctx: Context, verdicts: dict[str, Verdicts]) -> Iterator[tuple[str, tuple]]:
        of_value = verdicts[scope]
        for s in ctx.statements:
            for element in elements:
                for i, value in enumerate(s.strings[element]):
                    said = of_value.get(value)
                    if said is None:
                        said = of_value.judge(ctx.catalogue, value, (value,))
                    if said:
                        yield items(s, element)[i][0], said

    return walk


def _conditions(ctx: Context, verdicts: dict[str, Verdicts]) -> Iterator[tuple[str, tuple]]:
    """Both condition scopes in one walk: a condition's verdicts are those of its
    (operator, key) and those of the whole condition."""
    of_key, of_condition = verdicts[CONDITION_KEY], verdicts[CONDITION]
    for s in ctx.statements:
        block = s.get("Condition")
        if not isinstance(block, dict):
            continue
        for op_text, keys in block.items():
            op = parse_operator(op_text)
            if op is None or not isinstance(keys, dict):
                continue
            for key, values in keys.items():
                said = of_key.get((op_text, key))
                if said is None:
                    said = of_key.judge(ctx.catalogue, (op_text, key), (op, key))
                condition = (op_text, key, texts(values))
                said_too = of_condition.get(condition)
                if said_too is None:
                    said_too = of_condition.judge(ctx.catalogue, condition, (op, key, condition[2]))
                if said or said_too:
                    yield f"{s.path}.Condition.{op_text}.{key}", said + said_too


# scope -> the walk over every entry of a policy in document order that yields
# (path, verdicts) for each entry with verdicts. Given each scope's Verdicts, it
# reads an entry's verdicts from them or has them judged into them.
ENTRIES: dict[str, Walk] = {
    ACTION: _strings_of(ACTION, "Action", "NotAction"),
    RESOURCE: _strings_of(RESOURCE, "Resource", "NotResource"),
    CONDITION: _conditions,
    CONDITION_KEY: _conditions,
}

# id(catalogue) -> name -> its memo (see `memo`); emptied when the catalogue goes
_MEMOS: dict[int, dict[str, dict]] = {}


def memo(catalogue: Catalogue, name: str, make: Callable[[], dict] = dict) -> dict:
    """A dict kept as long as the catalogue, for answers that depend only on it and
    their key: what checks ask alike in many policies of one build."""
    memos = _MEMOS.get(id(catalogue))
    if memos is None:
        memos = _MEMOS[id(catalogue)] = {}
        weakref.finalize(catalogue, _MEMOS.pop, id(catalogue), None)
    found = memos.get(name)
    if found is None:
        found = memos[name] = make()
    return found


def forget(catalogue: Catalogue) -> None:
    """Drop every memo kept for the catalogue."""
    _MEMOS.get(id(catalogue), {}).clear()


def judge(catalogue: Catalogue, scope: str, entry: tuple) -> tuple[tuple[str, str], ...]:
    """(check id, message) for what every check of `scope` says about one entry."""
    return tuple((c.id, message) for c in _JUDGES.get(scope, ()) for message in c.judge(catalogue, *entry))


def entry_hits(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """check id -> its (path, message) hits over the policy's entries, for every
    entry-scoped check with hits, in document order: the same as each check looping
    over its entries itself, with each distinct entry judged once per catalogue."""
    found = ctx.shared.get(entry_hits)
    if found is None:
        found = ctx.shared[entry_hits] = {}
        verdicts = memo(ctx.catalogue, "verdicts", lambda: {scope: Verdicts(scope) for scope in ENTRIES})
        for walk in dict.fromkeys(ENTRIES.values()):
            for path, said in walk(ctx, verdicts):
                for id, message in said:
                    found.setdefault(id, []).append((path, message))
    return found
