"""`slpc diff`'s renderings of a change list: text, JSON (a versioned contract) and
Markdown for a pull-request comment."""

from __future__ import annotations

from typing import Sequence

from slpc.compiler.diff import EFFECTS, NARROWS, NEUTRAL, WIDENS, Change

JSON_VERSION = 1


def summary(changes: Sequence[Change]) -> dict[str, int]:
    return {e: sum(c.effect == e for c in changes) for e in EFFECTS}


def _summary_line(changes: Sequence[Change]) -> str:
    if not changes:
        return "no change in meaning"
    s = summary(changes)
    return (f"{len(changes)} change(s): {s[WIDENS]} widen access, {s[NARROWS]} narrow access, "
            f"{s[NEUTRAL]} neutral")


def to_json(changes: Sequence[Change], old: str, new: str) -> dict:
    return {"format": "slpc-diff", "version": JSON_VERSION, "old": old, "new": new,
            "summary": summary(changes), "changes": [c.to_json() for c in changes]}


def format_text(changes: Sequence[Change], old: str, new: str) -> str:
    marks = {WIDENS: "+", NARROWS: "-", NEUTRAL: "~"}
    lines = [f"slpc diff {old} -> {new}: {_summary_line(changes)}"]
    for c in changes:
        lines.append(f"{marks[c.effect]} {c.effect:<7}  {c.description}")
        lines.append(f"  {'':<7}  [{c.kind}] {c.subject}")
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def format_markdown(changes: Sequence[Change], old: str, new: str) -> str:
    s = summary(changes)
    if not changes:
        head = f"**slpc diff** `{_cell(old)}` → `{_cell(new)}`: no change in meaning."
    else:
        verdict = "⚠️ widens access" if s[WIDENS] else ("narrows access only" if s[NARROWS] else "no access change")
        head = (f"**slpc diff** `{_cell(old)}` → `{_cell(new)}`: {verdict} — {s[WIDENS]} added, "
                f"{s[NARROWS]} removed, {s[NEUTRAL]} other")
    out = [head, ""]
    for title, effect in (("Access added", WIDENS), ("Access removed", NARROWS), ("Other changes", NEUTRAL)):
        rows = [c for c in changes if c.effect == effect]
        out += [f"### {title}", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out += ["| change | in the spec | what it means |", "|---|---|---|"]
        out += [f"| {c.kind} | `{_cell(c.subject)}` | {_cell(c.description)} |" for c in rows]
        out.append("")
    return "\n".join(out)
