"""`slpc help TOPIC`: short references printed from the data slpc itself uses."""

from __future__ import annotations

from slpc.compiler import verbs as V

TOPICS = ("verbs", "exit-codes", "formats")


def verbs() -> str:
    lines = ["Verbs (asset kind, verb: exact AWS actions)", ""]
    for (kind, name), verb in V.VERBS.items():
        lines.append(f"  {kind:<10} {name:<7} {verb.doc}")
        for action, scope in verb.actions:
            lines.append(f"      {action:<45} [{scope}]")
    return "\n".join(lines)


def exit_codes() -> str:
    return "\n".join([
        "Exit codes",
        "  0  success (warnings allowed)",
        "  1  findings: `fmt --check` would reformat, `lint-policy` found issues,",
        "     `explain` found the policies disagree with the spec",
        "  2  user error: a bad spec, bad usage, an unwritable output directory",
    ])


def formats() -> str:
    return "\n".join([
        "Output formats",
        "  check, compile:  --format text | json | sarif (SARIF 2.1.0 for code-scanning UIs)",
        "  lint-policy:     --format text | json | sarif",
        "  explain:         --format text | json",
    ])


def topic(name: str) -> str | None:
    return {"verbs": verbs, "exit-codes": exit_codes, "formats": formats}.get(name, lambda: None)()
