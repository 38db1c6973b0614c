"""IAM wildcard matching (`*` any run, `?` one character), compiled once.

Shared by the evaluator and the validator so both read patterns the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=65536)
def wildcard_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """A compiled regex that matches exactly what the IAM pattern matches."""
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text
