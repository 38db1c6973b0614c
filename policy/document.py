"""The one policy-document model every target writes and every verifier reads.

IAM, S3, KMS, ECR, VPC-endpoint, SCP and RCP policies share one JSON grammar, so
slpc builds them all from these frozen types and serialises them in one place.
Nothing else in slpc builds policy JSON by hand.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring, encode_basestring_ascii
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, NamedTuple

VERSION = "2012-10-17"

# The JSON element names, written once.
_SCALAR_OR_LIST = ("Action", "NotAction", "Resource", "NotResource")


class PolicyFormatError(ValueError):
    """A policy JSON that does not have the shape of an AWS policy document."""

    def __init__(self, message: str, path: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


def _cached_hash(self) -> int:
    """The hash of a frozen value's fields, computed once: the optimizer and the
    verifiers key dicts on statements and principals many times over."""
    try:
        return self.__dict__["_hash"]
    except KeyError:
        h = hash(tuple(getattr(self, name) for name in self.__dataclass_fields__))
        object.__setattr__(self, "_hash", h)
        return h


def _state_without_hash(self) -> dict:
    """A pickle carries no cached hash: string hashes differ between processes."""
    return {k: v for k, v in self.__dict__.items() if k != "_hash"}


class Condition(NamedTuple):
    """One operator/key pair of a Condition block; its values are ORed. A named
    tuple, not a dataclass: statements are grouped by their conditions many times
    over, and a tuple hashes and compares in C."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """A Principal or NotPrincipal element.

    ``wildcard`` is the bare ``"*"``; otherwise ``entries`` maps a kind
    (``AWS``, ``Service``, ``Federated``, ``CanonicalUser``) to its values.
    """

    wildcard: bool = False
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    __hash__ = _cached_hash
    __getstate__ = _state_without_hash

    @staticmethod
    def any() -> "Principal":
        return Principal(wildcard=True)

    @staticmethod
    def aws(*arns: str) -> "Principal":
        return Principal(entries=(("AWS", tuple(sorted(set(arns)))),))

    def values(self, kind: str) -> tuple[str, ...]:
        for k, vals in self.entries:
            if k == kind:
                return vals
        return ()


@dataclass(frozen=True)
class Statement:
    """One policy statement. Empty tuples mean the element is absent."""

    effect: str
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None
    principal: Principal | None = None
    not_principal: Principal | None = None
    not_actions: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()

    __hash__ = _cached_hash
    __getstate__ = _state_without_hash


# A statement's content: every field but its Sid (what two statements must share to be
# the same grant or deny, however they are named).
CONTENT = tuple(name for name in Statement.__dataclass_fields__ if name != "sid")


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str | None = VERSION
    id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


# --------------------------------------------------------------------------- #
# Serialisation


def _principal_json(p: Principal) -> Any:
    if p.wildcard:
        return "*"
    return {kind: list(vals) for kind, vals in p.entries}


def _conditions_json(conditions: Iterable[Condition]) -> dict:
    """A single value is written as a scalar, as AWS's own examples write it: fewer bytes
    against every size limit, and linters (parliament) that read `Bool` values as scalars."""
    out: dict[str, dict[str, str | list[str]]] = {}
    for c in conditions:
        out.setdefault(c.operator, {})[c.key] = c.values[0] if len(c.values) == 1 else list(c.values)
    return out


def statement_json(s: Statement) -> dict:
    out: dict[str, Any] = {"Effect": s.effect}
    if s.sid is not None:
        out["Sid"] = s.sid
    if s.principal is not None:
        out["Principal"] = _principal_json(s.principal)
    if s.not_principal is not None:
        out["NotPrincipal"] = _principal_json(s.not_principal)
    for name, vals in zip(
        _SCALAR_OR_LIST, (s.actions, s.not_actions, s.resources, s.not_resources)
    ):
        if vals:
            out[name] = list(vals)
    if s.conditions:
        out["Condition"] = _conditions_json(s.conditions)
    return out


def to_json(doc: PolicyDocument) -> dict:
    out: dict[str, Any] = {}
    if doc.version is not None:
        out["Version"] = doc.version
    if doc.id is not None:
        out["Id"] = doc.id
    out["Statement"] = [statement_json(s) for s in doc.statements]
    return out


def dumps(doc: PolicyDocument) -> str:
    """The artifact text: `pretty(to_json(doc))`, written from the document's fields in
    their sorted JSON order without building the dicts first (a fifth of a large build).
    Kept on the document: a target measures a policy, then the build writes the same one."""
    text = doc.__dict__.get("_text")
    if text is None:
        text = _dumps(doc)
        object.__setattr__(doc, "_text", text)
    return text


def _dumps(doc: PolicyDocument) -> str:
    fields = []
    if doc.id is not None:
        fields.append(f'\n  "Id": {_encode(doc.id)}')
    statements = [_statement_pretty(s) for s in doc.statements]
    fields.append('\n  "Statement": ' + ("[\n    " + ",\n    ".join(statements) + "\n  ]" if statements else "[]"))
    if doc.version is not None:
        fields.append(f'\n  "Version": {_encode(doc.version)}')
    return "{" + ",".join(fields) + "\n}\n"


_STATEMENT = "\n    "  # a statement's own indent in a policy document
_FIELD = _STATEMENT + "  "
_ENTRY = _FIELD + "  "  # a condition operator or a principal kind
_KEY = _ENTRY + "  "  # a condition key


def _statement_pretty(s: Statement) -> str:
    """`_pretty(statement_json(s), _STATEMENT)`: the elements in sorted name order."""
    out = []
    if s.actions:
        out.append(_FIELD + '"Action": ' + _strings(s.actions, _FIELD))
    if s.conditions:
        out.append(_FIELD + '"Condition": ' + _conditions_pretty(s.conditions))
    out.append(_FIELD + '"Effect": ' + encode_basestring(s.effect))
    if s.not_actions:
        out.append(_FIELD + '"NotAction": ' + _strings(s.not_actions, _FIELD))
    if s.not_principal is not None:
        out.append(_FIELD + '"NotPrincipal": ' + _principal_pretty(s.not_principal))
    if s.not_resources:
        out.append(_FIELD + '"NotResource": ' + _strings(s.not_resources, _FIELD))
    if s.principal is not None:
        out.append(_FIELD + '"Principal": ' + _principal_pretty(s.principal))
    if s.resources:
        out.append(_FIELD + '"Resource": ' + _strings(s.resources, _FIELD))
    if s.sid is not None:
        out.append(_FIELD + '"Sid": ' + encode_basestring(s.sid))
    return "{" + ",".join(out) + _STATEMENT + "}"


def _conditions_pretty(conditions: tuple[Condition, ...]) -> str:
    """`_pretty(_conditions_json(conditions), _FIELD)`; a later repeat of an
    operator and key replaces the earlier one, as there."""
    block: dict[str, dict[str, tuple[str, ...]]] = {}
    for c in conditions:
        block.setdefault(c.operator, {})[c.key] = c.values
    return "{" + ",".join([
        _ENTRY + encode_basestring(op) + ": {" + ",".join([
            _KEY + encode_basestring(key) + ": " + (encode_basestring(values[0]) if len(values) == 1
                                                     else _strings(values, _KEY))
            for key, values in sorted(block[op].items())]) + _ENTRY + "}"
        for op in sorted(block)]) + _FIELD + "}"


def _principal_pretty(p: Principal) -> str:
    """`_pretty(_principal_json(p), _FIELD)`; a later repeat of a kind wins, as there."""
    if p.wildcard:
        return '"*"'
    entries = dict(p.entries)
    if not entries:
        return "{}"
    return "{" + ",".join([_ENTRY + encode_basestring(kind) + ": " + _strings(values, _ENTRY)
                           for kind, values in sorted(entries.items())]) + _FIELD + "}"


def _strings(values: tuple[str, ...], newline: str) -> str:
    """A list of strings as `_pretty` lays it out."""
    if not values:
        return "[]"
    inner = newline + "  "
    return "[" + inner + ("," + inner).join(map(encode_basestring, values)) + newline + "]"


def pretty(value: Any, ascii: bool = False) -> str:
    """json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ascii) + "\\n" for JSON
    data (string keys, lists not tuples), several times faster (see `_pretty`)."""
    return _pretty(value, "\n", encode_basestring_ascii if ascii else encode_basestring) + "\n"


_VALUE = json.JSONEncoder().encode  # the C encoder, for one value other than a string


def _encode(value: Any) -> str:
    """One leaf as json.dumps writes it (ensure_ascii=False); a string straight through
    the C function that `_VALUE` would reach through two Python calls."""
    return encode_basestring(value) if type(value) is str else _VALUE(value)


def _pretty(value: Any, newline: str, string: Callable[[str], str]) -> str:
    """json.dumps's indent=2 layout, built with the C encoder for the values (`string`
    for strings: one C call each): the standard library falls back to its pure-Python
    encoder whenever it indents."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + "  "
        return "{" + ",".join([f"{inner}{string(k)}: {_pretty(value[k], inner, string)}" for k in sorted(value)]) \
            + newline + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = newline + "  "
        if all(type(v) is str for v in value):  # the common leaf
            return "[" + inner + ("," + inner).join(map(string, value)) + newline + "]"
        return "[" + ",".join([inner + _pretty(v, inner, string) for v in value]) + newline + "]"
    return string(value) if type(value) is str else _VALUE(value)


def minify(doc: PolicyDocument) -> str:
    return json.dumps(to_json(doc), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- #
# Parsing any policy JSON (hand-written, deployed, or slpc's own)


def _str_list(value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyFormatError("expected a string or a list of strings", path)


def _principal_from(value: Any, path: str) -> Principal:
    if value == "*":
        return Principal.any()
    if isinstance(value, dict):
        entries = []
        for kind, vals in value.items():
            entries.append((kind, _str_list(vals, f"{path}.{kind}")))
        return Principal(entries=tuple(entries))
    raise PolicyFormatError('expected "*" or an object such as {"AWS": [...]}', path)


def _conditions_from(value: Any, path: str) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise PolicyFormatError("expected an object of operators", path)
    out = []
    for op, block in value.items():
        if not isinstance(block, dict):
            raise PolicyFormatError("expected an object of condition keys", f"{path}.{op}")
        for key, vals in block.items():
            items = vals if isinstance(vals, list) else [vals]
            # JSON booleans and numbers are compared as their text, as AWS does.
            texts = [v if isinstance(v, str) else json.dumps(v) for v in items]
            out.append(Condition(op, key, _str_list(texts, f"{path}.{op}.{key}")))
    return tuple(out)


def statement_from_json(obj: Any, path: str) -> Statement:
    if not isinstance(obj, dict):
        raise PolicyFormatError("a statement must be an object", path)
    effect = obj.get("Effect")
    if not isinstance(effect, str):
        raise PolicyFormatError("missing or non-string Effect", f"{path}.Effect")
    lists = {
        name: _str_list(obj[name], f"{path}.{name}") if name in obj else ()
        for name in _SCALAR_OR_LIST
    }
    sid = obj.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyFormatError("Sid must be a string", f"{path}.Sid")
    return Statement(
        effect=effect,
        sid=sid,
        actions=lists["Action"],
        not_actions=lists["NotAction"],
        resources=lists["Resource"],
        not_resources=lists["NotResource"],
        principal=_principal_from(obj["Principal"], f"{path}.Principal") if "Principal" in obj else None,
        not_principal=(
            _principal_from(obj["NotPrincipal"], f"{path}.NotPrincipal") if "NotPrincipal" in obj else None
        ),
        conditions=_conditions_from(obj["Condition"], f"{path}.Condition") if "Condition" in obj else (),
    )


def from_json(obj: Any) -> PolicyDocument:
    """Read a policy document (already decoded JSON) into the model."""
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise PolicyFormatError(f"not JSON: {exc.msg}", f"$ (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise PolicyFormatError("a policy must be a JSON object", "$")
    stmts = obj.get("Statement")
    if stmts is None:
        raise PolicyFormatError("missing Statement", "$.Statement")
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list):
        raise PolicyFormatError("Statement must be an object or a list", "$.Statement")
    version = obj.get("Version")
    return PolicyDocument(
        statements=tuple(statement_from_json(s, f"$.Statement[{i}]") for i, s in enumerate(stmts)),
        version=version if isinstance(version, str) else None,
        id=obj.get("Id") if isinstance(obj.get("Id"), str) else None,
    )
