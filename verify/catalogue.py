"""AWS's action catalogue: actions, resource types, condition keys and their types.

A pinned snapshot of the Service Authorization Reference lives in ``data/``
(one gzipped file per service prefix plus a small index; regenerate it with
``tools/refresh_catalogue.py``). Services load lazily, one file at a time, so a
lint or compile run pays only for the services its policies name.

Global ``aws:*`` keys come from the hand-kept ``data/global-condition-keys.json``.

Module functions use one shared, lazily filled :class:`Catalogue`; build your
own ``Catalogue(data_dir)`` to read another snapshot or to observe loading.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from slpc.policy.matching import has_wildcard, wildcard_match

DATA_DIR = Path(__file__).resolve().parent / "data"
INDEX_FILE = "catalogue-index.json"
GLOBAL_KEYS_FILE = "global-condition-keys.json"

# Placeholders in AWS's ARN formats and key names: ${BucketName}, <key>.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|<[^>]*>")


@dataclass(frozen=True)
class ResourceType:
    service: str
    name: str
    arn: str  # AWS's format, e.g. arn:${Partition}:s3:::${BucketName}
    condition_keys: tuple[str, ...]

    def fits(self, arn: str) -> bool:
        """Whether some concrete ARN matches both this format and the policy's ARN pattern."""
        return _fits(self.arn, arn)


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    access_level: str  # List | Read | Write | Permissions management | Tagging
    resource_types: tuple[str, ...]  # empty: the action takes only Resource "*"
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True)
class ConditionKey:
    name: str  # as AWS spells it, placeholders included (aws:ResourceTag/${TagKey})
    types: tuple[str, ...]  # String, ARN, Numeric, Date, Bool, IPAddress, Binary, ArrayOf<T>

    @property
    def multivalued(self) -> bool:
        return any(t.startswith("ArrayOf") for t in self.types)

    @property
    def base_types(self) -> frozenset[str]:
        """The scalar types, ArrayOf stripped: what decides which operators fit."""
        return frozenset(t.removeprefix("ArrayOf") for t in self.types)


def _key_matcher(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


class Service:
    """One service prefix's actions, resource types and condition keys."""

    def __init__(self, raw: dict):
        self.prefix: str = raw["prefix"]
        self.name: str = raw["name"]
        self._actions = {
            n.lower(): Action(self.prefix, n, lvl, tuple(rts), tuple(keys))
            for n, (lvl, rts, keys) in raw["actions"].items()
        }
        self.resource_types = {
            n: ResourceType(self.prefix, n, arn, tuple(keys)) for n, (arn, keys) in raw["resources"].items()
        }
        self._keys = {k.lower(): ConditionKey(k, (t,)) for k, t in raw["conditions"].items()}
        self._templates = [(_key_matcher(k.name), k) for k in self._keys.values() if _PLACEHOLDER.search(k.name)]

    def actions(self) -> tuple[Action, ...]:
        return tuple(self._actions.values())

    def action(self, name: str) -> Action | None:
        return self._actions.get(name.lower())

    def condition_key(self, name: str) -> ConditionKey | None:
        found = self._keys.get(name.lower())
        if found:
            return found
        return next((k for rx, k in self._templates if rx.fullmatch(name)), None)


class Catalogue:
    """The snapshot in ``data_dir``; services are read on first use and kept."""

    def __init__(self, data_dir: Path = DATA_DIR):
        self.data_dir = Path(data_dir)
        self._services: dict[str, Service] = {}
        # the lint asks about the same patterns and ARNs in many policies of one build
        self._expanded: dict[str, tuple[Action, ...]] = {}
        self._resource_formats: dict[str, frozenset[str]] = {}
        self._types_for_arn: dict[str, tuple[ResourceType, ...]] = {}
        self._types_for_shape: dict[tuple[str, str], tuple[ResourceType, ...]] = {}
        self._formats: dict[str, frozenset[str]] = {}
        self._fits_some: dict[tuple[frozenset[str], str], bool] = {}

    @cached_property
    def index(self) -> dict:
        return json.loads((self.data_dir / INDEX_FILE).read_text())

    @cached_property
    def _global_keys(self) -> dict[str, ConditionKey]:
        raw = json.loads((self.data_dir / GLOBAL_KEYS_FILE).read_text())["keys"]
        return {k.lower(): ConditionKey(k, tuple(types)) for k, types in raw.items()}

    @property
    def version(self) -> str:
        i = self.index
        return f"{i['source_version']}, generated {i['generated']}"

    @property
    def loaded(self) -> frozenset[str]:
        """Service prefixes read from disk so far."""
        return frozenset(self._services)

    def prefixes(self) -> frozenset[str]:
        return frozenset(self.index["services"])

    def service(self, prefix: str) -> Service | None:
        prefix = prefix.lower()
        if prefix not in self._services:
            if prefix not in self.index["services"]:
                return None
            raw = gzip.decompress((self.data_dir / f"svc-{prefix}.json.gz").read_bytes())
            self._services[prefix] = Service(json.loads(raw))
        return self._services[prefix]

    def action(self, name: str) -> Action | None:
        """``s3:GetObject`` -> its Action, case-insensitively; None if unknown."""
        prefix, _, act = name.partition(":")
        svc = self.service(prefix) if act else None
        return svc.action(act) if svc else None

    def expand(self, pattern: str) -> tuple[Action, ...]:
        """Every action an IAM action pattern (``s3:Get*``, ``*``) names, in catalogue order."""
        found = self._expanded.get(pattern)
        if found is None:
            found = self._expanded[pattern] = self._expand(pattern)
        return found

    def resource_formats(self, pattern: str) -> frozenset[str]:
        """The ARN formats of the resource types of every action the pattern names."""
        found = self._resource_formats.get(pattern)
        if found is None:
            found = self._resource_formats[pattern] = frozenset(
                types[rt].arn for act in self.expand(pattern) for types in (self.service(act.service).resource_types,)
                for rt in act.resource_types if rt in types)
        return found

    def _expand(self, pattern: str) -> tuple[Action, ...]:
        if pattern == "*":
            svc_pat, act_pat = "*", "*"
        else:
            svc_pat, sep, act_pat = pattern.partition(":")
            if not sep:
                return ()
        if has_wildcard(svc_pat):
            prefixes = sorted(p for p in self.prefixes() if wildcard_match(svc_pat, p, ignore_case=True))
        else:
            prefixes = [svc_pat.lower()] if svc_pat.lower() in self.index["services"] else []
        out: list[Action] = []
        for p in prefixes:
            svc = self.service(p)
            if not has_wildcard(act_pat):
                hit = svc.action(act_pat)
                out.extend([hit] if hit else [])
            else:
                out.extend(a for a in svc.actions() if wildcard_match(act_pat, a.name, ignore_case=True))
        return tuple(out)

    def global_key(self, name: str) -> ConditionKey | None:
        found = self._global_keys.get(name.lower())
        if found:
            return found
        return next(
            (k for k in self._global_keys.values() if _PLACEHOLDER.search(k.name) and _key_matcher(k.name).fullmatch(name)),
            None,
        )

    def condition_key(self, name: str) -> ConditionKey | None:
        """A global or service condition key by name (tag-style placeholders match any suffix)."""
        prefix = name.partition(":")[0].lower()
        if prefix == "aws":
            return self.global_key(name)
        for p in self.index["key_prefixes"].get(prefix, ()):
            found = self.service(p).condition_key(name)
            if found:
                return found
        return None

    def knows_key_prefix(self, prefix: str) -> bool:
        return prefix.lower() == "aws" or prefix.lower() in self.index["key_prefixes"]

    def resource_types_for_arn(self, arn: str) -> tuple[ResourceType, ...]:
        """Resource types, of any service, whose ARN format the policy ARN can match.

        A large deployment names tens of thousands of ARNs that differ only in
        characters no format of their service spells (team-467 vs team-468): they
        share one answer, looked up by the ARN's shape (see `arn_shape`)."""
        found = self._types_for_arn.get(arn)
        if found is None:
            parts = arn.split(":", 3)
            service = parts[2] if len(parts) > 2 else ""
            shape = (service, arn_shape(self._formats_of(service.lower()), arn))
            found = self._types_for_shape.get(shape)
            if found is None:
                found = self._types_for_shape[shape] = self._resource_types_for_arn(arn)
            self._types_for_arn[arn] = found
        return found

    def _formats_of(self, arn_service: str) -> frozenset[str]:
        """The ARN formats of every service with a resource type in `arn_service`'s ARNs."""
        found = self._formats.get(arn_service)
        if found is None:
            found = self._formats[arn_service] = frozenset(
                rt.arn for p in self.index["arn_services"].get(arn_service, ())
                for rt in self.service(p).resource_types.values())
        return found

    def fits_some(self, formats: frozenset[str], arn: str) -> bool:
        """Whether the policy ARN can match one of the ARN formats; answered once per
        shape of the ARN (see `arn_shape`)."""
        key = (formats, arn_shape(formats, arn))
        found = self._fits_some.get(key)
        if found is None:
            found = self._fits_some[key] = any(_fits(f, arn) for f in formats)
        return found

    def _resource_types_for_arn(self, arn: str) -> tuple[ResourceType, ...]:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return ()
        owners = self.index["arn_services"].get(parts[2].lower(), ())
        return tuple(
            rt for p in owners for rt in self.service(p).resource_types.values() if rt.arn.split(":")[2] == parts[2] and rt.fits(arn)
        )

    def knows_arn_service(self, arn_service: str) -> bool:
        return arn_service.lower() in self.index["arn_services"]


# --------------------------------------------------------------------------- #
# ARN pattern intersection. Both sides are globs over characters: policy ARNs
# have * and ?; AWS's formats have placeholders of one or more characters. A
# placeholder other than the format's last never holds ":" (so Region and
# Account stay in their segments), and an S3 bucket name never holds "/" (so a
# bucket format does not swallow an object ARN). Tokens are one-character
# strings or (kind, forbidden characters) with kind "one" or "star".

_NO_SLASH = {"${BucketName}"}
# What a policy ARN's matching reads besides the formats' own characters.
_POLICY_SYNTAX = ":/*?${}"
_ANY_ONE, _ANY_RUN = ("one", ""), ("star", "")


def _format_tokens(fmt: str) -> tuple:
    names = _PLACEHOLDER.findall(fmt)
    out: list = []
    for i, piece in enumerate(_PLACEHOLDER.split(fmt)):
        if i:
            name = names[i - 1]
            forbidden = ("" if i == len(names) else ":") + ("/" if name in _NO_SLASH else "")
            out += [("one", forbidden), ("star", forbidden)]
        out += list(piece)
    return tuple(out)


def _policy_tokens(arn: str) -> tuple:
    # IAM matches the five segments before the resource part one by one, so a
    # wildcard there stays inside its segment. A policy variable such as
    # ${aws:username} can stand for any text.
    out: list = []
    colons = 0
    for i, piece in enumerate(re.split(r"\$\{[^}]*\}", arn)):
        if i:
            out.append(_ANY_RUN)
        for c in piece:
            in_prefix = colons < 5
            colons += c == ":"
            if c == "*":
                out.append(("star", ":") if in_prefix else _ANY_RUN)
            elif c == "?":
                out.append(("one", ":") if in_prefix else _ANY_ONE)
            else:
                out.append(c)
    return tuple(out)


def _is_run(t) -> bool:
    return isinstance(t, tuple) and t[0] == "star"


def _chars_meet(x, y) -> bool:
    """Whether two tokens, each read as one character, can be the same character."""
    if isinstance(x, str) and isinstance(y, str):
        return x == y
    if isinstance(y, str):
        x, y = y, x
    if isinstance(x, str):
        return x not in y[1]
    return True  # two classes that each forbid at most two characters


_POLICY_WILDCARD = re.compile(r"[*?]|\$\{")


def _token_regexes(fmt: str) -> list[str]:
    out = []
    for t in _format_tokens(fmt):
        if isinstance(t, str):
            out.append(re.escape(t))
        else:
            kind, forbidden = t
            cls = f"[^{re.escape(forbidden)}]" if forbidden else "."
            out.append(cls if kind == "one" else cls + "*")
    return out


@lru_cache(maxsize=None)
def _format_regex(fmt: str) -> re.Pattern[str]:
    """The format's tokens as a regular expression over concrete ARNs."""
    return re.compile("".join(_token_regexes(fmt)), re.DOTALL)


@lru_cache(maxsize=None)
def _format_prefix_regex(fmt: str) -> re.Pattern[str]:
    """Matches the strings that begin some ARN of the format (t1(t2(t3...)?)?)?)."""
    acc = ""
    for t in reversed(_token_regexes(fmt)):
        acc = f"(?:{t}{acc})?"
    return re.compile(acc, re.DOTALL)


def arn_shape(formats: frozenset[str], arn: str) -> str:
    """The policy ARN with every character that is interchangeable for matching
    against the formats replaced by one stand-in.

    Matching reads a character only by comparing it with a literal of a format
    (placeholder names included), with the ":" and "/" a placeholder may not hold,
    or as policy syntax (``*``, ``?``, ``${...}``). Two characters that are none of
    these for every format fit alike, so ARNs of one shape fit the same formats."""
    return _interchangeable(formats).sub("\0", arn)  # no format spells "\0"


@lru_cache(maxsize=None)
def _interchangeable(formats: frozenset[str]) -> re.Pattern[str]:
    """Matches the characters that appear in none of the formats and are no policy syntax."""
    spelled = set(_POLICY_SYNTAX).union(*formats)
    return re.compile(f"[^{re.escape(''.join(sorted(spelled)))}]")


@lru_cache(maxsize=1 << 18)  # an ARN recurs in several policies of one build
def _fits(fmt: str, arn: str) -> bool:
    if not _POLICY_WILDCARD.search(arn):  # a concrete ARN: matching, no search needed
        return _format_regex(fmt).fullmatch(arn) is not None
    head, _, tail = arn.partition("*")
    if not tail and head.count(":") >= 5 and not _POLICY_WILDCARD.search(head):
        # `head*`, the * in the resource part (any characters): some ARN of the format begins with head
        return _format_prefix_regex(fmt).fullmatch(head) is not None
    return patterns_intersect(_format_tokens(fmt), _policy_tokens(arn))


def patterns_intersect(a: tuple, b: tuple) -> bool:
    """Whether two token globs share at least one string (search over position pairs)."""
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        x = a[i] if i < len(a) else None
        y = b[j] if j < len(b) else None
        if _is_run(x):
            todo.append((i + 1, j))  # the run ends here
            if y is not None and not _is_run(y) and _chars_meet(x, y):
                todo.append((i, j + 1))  # the run takes y's character
        if _is_run(y):
            todo.append((i, j + 1))
            if x is not None and not _is_run(x) and _chars_meet(x, y):
                todo.append((i + 1, j))
        if x is not None and y is not None and not _is_run(x) and not _is_run(y) and _chars_meet(x, y):
            todo.append((i + 1, j + 1))
    return False


# --------------------------------------------------------------------------- #
# The shared catalogue and its module-level API.

_DEFAULT = Catalogue()


def default() -> Catalogue:
    return _DEFAULT


def action(name: str) -> Action | None:
    return _DEFAULT.action(name)


def expand(pattern: str) -> tuple[Action, ...]:
    return _DEFAULT.expand(pattern)


def condition_key(name: str) -> ConditionKey | None:
    return _DEFAULT.condition_key(name)


def service(prefix: str) -> Service | None:
    return _DEFAULT.service(prefix)


def __getattr__(name: str) -> str:
    # VERSION reads the index lazily so importing this module costs nothing.
    if name == "VERSION":
        return _DEFAULT.version
    raise AttributeError(name)
