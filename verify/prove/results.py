"""Proof results as plain data: the JSON of `slpc prove --format json` (docs/prove.md),
which `slpc report` reads too, and the `slpc explain` line that replays a counterexample."""

from __future__ import annotations

import shlex
from typing import Sequence

from slpc.policy.document import minify

from .properties import PROVED, Result as PropertyResult
from .world import STAR

UNIVERSE = ("requests: every data action (read, write, delete, list, decrypt, pull, push, invoke), perimeter, "
            "governance-bypass and key-administration action on the spec's buckets (objects and bucket), keys, "
            "repositories, SageMaker endpoints and API stages, and every STS call that obtains, IAM call that "
            "passes or changes a role whose trust the spec declares; callers: the spec's roles and any other IAM "
            "role or user (any path, any account) holding *:* (the outsider), anonymous callers, AWS service "
            "principals and web identity or SAML callers of any identity provider; every value of every condition "
            "key, present or absent")


def universe(results: Sequence[PropertyResult]) -> str:
    """UNIVERSE, and what the proof assumes beyond AWS's rules (keys in the account-wide form)."""
    assumed = sorted({a for r in results for a in r.assumptions})
    return UNIVERSE + "".join(f"; assuming {a}" for a in assumed)


def all_proved(results: Sequence[PropertyResult]) -> bool:
    return all(r.verdict == PROVED for r in results)


def explain_line(files: Sequence[str], cex) -> str:
    """The `slpc explain` command that replays a counterexample (a `solver.Counterexample`)."""
    words = ["slpc", "explain", *files, "--principal", cex.principal, "--action", cex.action,
             "--resource", cex.resource]
    for key, values in sorted(cex.context.items()):
        for v in values:
            words += ["--context", f"{key}={v}"]
    line = " ".join(shlex.quote(w) for w in words)
    if cex.star:
        line += " --identity-policy <(echo " + shlex.quote(minify(STAR)) + ")"
    return line


def _cex_json(files: Sequence[str], result: PropertyResult) -> dict | None:
    o = result.counterexample
    if o is None:
        return None
    c = o.counterexample
    return {"query": o.query, "principal": c.principal, "action": c.action, "resource": c.resource,
            "context": c.context, "identity_star": c.star, "allowed": c.allowed, "spec_permits": c.spec_permits,
            "decision": c.decision, "explain": explain_line(files, c)}


def to_json(results: Sequence[PropertyResult], files: Sequence[str], source_sha256: str) -> dict:
    """`source_sha256` as in manifest.json, so `slpc report --proof` can tell which spec was proved."""
    return {"ok": all_proved(results), "universe": universe(results), "source_sha256": source_sha256, "properties": [
        {"number": r.prop.number, "name": r.prop.name, "claim": r.prop.claim, "verdict": r.verdict,
         "queries": len(r.outcomes), "seconds": round(r.seconds, 3), "problems": r.problems,
         "counterexample": _cex_json(files, r),
         "unknown": [{"query": o.query, "note": o.note} for o in r.outcomes if o.verdict == "unknown"]}
        for r in results]}


def to_text(results: Sequence[PropertyResult], files: Sequence[str]) -> str:
    lines = [f"slpc prove: {universe(results)}"]
    for r in results:
        n = len(r.outcomes)
        lines.append(f"[{r.verdict}] {r.prop.number}. {r.prop.name}: {r.prop.claim} "
                     f"({n} quer{'y' if n == 1 else 'ies'}, {r.seconds:.2f} s)")
        lines += [f"    {problem}" for problem in r.problems]
        o = r.counterexample
        if o is not None:
            c = o.counterexample
            spec = "" if c.spec_permits is None else f", the spec {'permits' if c.spec_permits else 'does not'}"
            lines.append(f"    counterexample ({o.query}): AWS would {'ALLOW' if c.allowed else 'DENY'}{spec}")
            lines.append(f"      {explain_line(files, c)}")
            lines += [f"      {line}" for line in c.decision.splitlines()]
        lines += [f"    unknown ({u.query}): {u.note}" for u in r.outcomes if u.verdict == "unknown"]
    return "\n".join(lines) + "\n"
