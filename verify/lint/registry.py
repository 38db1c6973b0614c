"""The check registry and what every check shares: findings, context, helpers.

A check is a small function registered with ``@check(id, type, doc)``. It reads a
:class:`Context` and yields ``(json_path, message)`` pairs; the registry turns
them into :class:`Finding` objects, filling in the statement index and Sid from
the path. Ids are IAM Access Analyzer issue codes wherever one exists, so
findings read the same offline and online.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Iterator

from slpc.diagnostics import ERROR, NOTE, WARNING
from slpc.verify.catalogue import Catalogue
from slpc.policy.matching import has_wildcard, wildcard_match

POLICY_TYPES = ("identity", "resource", "scp", "rcp", "vpc-endpoint")
RESOURCE_TYPES = ("AWS::S3::Bucket", "AWS::S3::AccessPoint", "AWS::KMS::Key", "AWS::ECR::Repository", "AWS::ApiGateway::RestApi")


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


@dataclass(frozen=True)
class Stmt:
    """One statement object with where it sits in the document."""

    index: int
    path: str
    body: dict
    # element -> its (path, value) pairs: every check of a policy reads them alike
    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict, compare=False, repr=False)

    def get(self, name: str, default: Any = None) -> Any:
        return self.body.get(name, default)


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
    # what several checks of one policy compute alike (e.g. its parsed conditions)
    shared: dict[str, Any] = field(default_factory=dict)

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


@dataclass(frozen=True)
class Check:
    id: str
    finding_type: FindingType
    doc: str
    run: Callable[[Context], Hits]
    access_analyzer: bool  # False: slpc's own code, no Access Analyzer equivalent


REGISTRY: dict[str, Check] = {}


def check(id: str, finding_type: FindingType, doc: str, *, access_analyzer: bool = True):
    """Register the decorated function as check ``id``."""

    def register(fn: Callable[[Context], Hits]) -> Callable[[Context], Hits]:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        REGISTRY[id] = Check(id, finding_type, doc, fn, access_analyzer)
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


def run_check(chk: Check, ctx: Context) -> Iterator[Finding]:
    for path, message in chk.run(ctx):
        index = _statement_index(ctx, path)
        sid = ctx.sids.get(index)
        yield Finding(chk.id, chk.finding_type, path, message, index, sid if isinstance(sid, str) else None)

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


def conditions(stmt: Stmt) -> Iterator[tuple[str, str, str, list]]:
    """(path, operator, key, values) for each key of a well-formed Condition block."""
    block = stmt.get("Condition")
    if not isinstance(block, dict):
        return
    for op, keys in block.items():
        if not isinstance(keys, dict):
            continue
        for key, vals in keys.items():
            values = vals if isinstance(vals, list) else [vals]
            # AWS compares JSON booleans and numbers as their text.
            texts = [v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v) for v in values]
            yield f"{stmt.path}.Condition.{op}.{key}", op, key, texts


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
