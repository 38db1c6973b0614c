"""Names that differ only in a trailing number, written as one pattern.

Platforms number what they share (`acme-ml-weights-00` … `-119`); where a policy must
name them all and cannot fit, one `acme-ml-weights-*` names the whole family. In an
Allow that is coarser (stated by each caller); in a Deny it is only stricter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

MIN_STEM = 3  # shorter stems (`a-*`) would name too much to be worth stating


# the text before the last number that separators delimit: `acme-ml-weights-` of
# `acme-ml-weights-07`, `datasets-` of the access point pattern `datasets-07-team*`
_NUMBERED = re.compile(r"(.*[-_./])\d+(?:[-_./].*)?")


def stem(name: str) -> str:
    """The name up to its last delimited number (the whole name when it has none)."""
    found = _NUMBERED.fullmatch(name)
    return found.group(1) if found else name


def families(names: Iterable[str]) -> dict[str, list[str]]:
    """stem -> its names, for the stems that at least two names share (and are a real
    prefix of them): the families a pattern may stand for."""
    by_stem: dict[str, list[str]] = defaultdict(list)
    for n in dict.fromkeys(names):
        by_stem[stem(n)].append(n)
    return {s: ns for s, ns in by_stem.items() if len(ns) > 1 and len(s) >= MIN_STEM and s not in ns}


def named(resource: str) -> tuple[str, str] | None:
    """(everything before the name, the name) of a bucket or object-pattern ARN, a
    repository or SageMaker endpoint ARN or an access point pattern; None for what has
    no name to number."""
    for marker in (":s3:::", ":repository/", ":accesspoint/", ":endpoint/"):
        head, found, rest = resource.partition(marker)
        if found:
            return head + marker, rest.removesuffix("/*") if marker == ":s3:::" else rest
    return None


def family_patterns(resources: Iterable[str]) -> dict[str, str]:
    """resource -> its family's pattern (`arn:aws:s3:::acme-ml-weights-*`, which also
    covers the objects), for the resources whose names form a family among these."""
    by_prefix: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in resources:
        split = named(r)
        if split is not None:
            by_prefix[split[0]][split[1]].append(r)
    return {r: prefix + stem + "*" for prefix, names in by_prefix.items()
            for stem, members in families(names).items() for n in members for r in names[n]}
