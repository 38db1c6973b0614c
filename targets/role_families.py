"""Families of the spec's roles, each written as one ARN pattern.

A platform names thousands of team roles (`role/ml-platform/team042-training`); a
guardrail or a deployer's `iam:PassRole` that had to list each could never fit its
size limit. A pattern stands for a family only when every role of the spec it matches
belongs to the set being named: the whole IAM path (`role/ml-platform/*`), the names
that end alike (`role/ml-platform/*-frontend`) or start alike
(`role/evaluation/evaluator-*`). It still matches roles outside the spec so named: in
a Deny that is only stricter; in an Allow it is coarser, and the caller says so.
"""

from __future__ import annotations

import re
from typing import Iterable

from slpc.compiler.model import Model, Principal
from slpc.policy.matching import wildcard_regex

# A name's text before its first digit, and after its last: `team` and `-training`.
_AROUND_NUMBER = re.compile(r"([^0-9]*)(?:.*[0-9])?(.*)")
MIN_AFFIX = 3  # shorter affixes (`a*`) would name too much to be worth stating


def candidates(role: Principal) -> list[str]:
    """Patterns of the families the role may belong to, broadest first (none on path `/`)."""
    if role.path == "/":
        return []
    base = role.arn[: len(role.arn) - len(role.name_in_iam)]
    name = role.name_in_iam
    head, tail = _AROUND_NUMBER.fullmatch(name).groups()
    affixes = [f"*{tail}" if tail != name else "", f"{head}*" if head != name else ""]
    return [base + "*"] + [base + a for a in affixes if len(a) > MIN_AFFIX]


def role_families(model: Model, roles: Iterable[Principal]) -> tuple[str, ...]:
    """The roles' ARNs, sorted, each family of them (at least two roles) as its pattern."""
    roles = list(roles)
    mine = {p.arn for p in roles}
    every = [q.arn for q in model.principals.values()]
    verdicts: dict[str, bool] = {}  # pattern -> whether it names only these (few patterns, many roles)

    def only_these(pattern: str) -> bool:
        if pattern not in verdicts:
            matcher = wildcard_regex(pattern)
            covered = {arn for arn in every if matcher.fullmatch(arn)}
            verdicts[pattern] = len(covered) > 1 and covered <= mine
        return verdicts[pattern]

    return tuple(sorted({next((c for c in candidates(p) if only_these(c)), p.arn) for p in roles}))
