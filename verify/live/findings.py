"""What `slpc validate` reports: one Finding per problem, and the run's Report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from .compare import Drift, NotShown

# Finding kinds.
DRIFT = "drift"  # deployed differs in meaning from compiled
MISSING = "missing"  # the deployed resource or document does not exist
CANNOT_VERIFY = "cannot-verify"  # AccessDenied, malformed document, unsupported
ANALYZER = "access-analyzer"  # an IAM Access Analyzer finding (ValidatePolicy, custom checks)
LINT = "lint"  # an offline validator (slpc.verify.lint) finding on a compiled policy

# Who found it: the deployed-vs-compiled comparison, IAM Access Analyzer, slpc's offline linter.
SOURCE_DRIFT, SOURCE_ANALYZER, SOURCE_LINT = "drift", "access-analyzer", "slpc-lint"
LEVELS = ("error", "warning", "note")


@dataclass(frozen=True)
class Finding:
    kind: str
    artifact: str  # the artifact path in the manifest layout (s3/weights.json)
    target: str  # the ARN or id the artifact attaches to
    message: str
    level: str = "error"
    source: str = SOURCE_DRIFT
    code: str = ""
    sids: tuple[str, ...] = ()
    request: dict | None = None  # a counterexample request, for drift
    statement: int | None = None  # the statement's index in the compiled policy, when known
    also: tuple[str, ...] = ()  # further sources that reported the same issue
    not_shown: int = 0  # > 0: this finding counts that many drift groups of its code the report leaves out

    def to_json(self) -> dict:
        out = {"kind": self.kind, "artifact": self.artifact, "resource": self.target, "severity": self.level,
               "source": self.source, "sources": [self.source, *self.also], "code": self.code or self.kind,
               "message": self.message}
        if self.sids:
            out["sids"] = list(self.sids)
        if self.statement is not None:
            out["statement"] = self.statement
        if self.request is not None:
            out["request"] = self.request
        if self.not_shown:
            out["not_shown"] = self.not_shown
        return out


def drift_findings(artifact: str, target: str, prefix: str, items: Iterable[Drift | NotShown]) -> list[Finding]:
    """`compare_counted`'s result as findings, in its order: a drift with its request
    and deciding statements; a count of drifts left out with the code (and so the
    severity and exit status) of the drifts it stands for, so that whoever keeps a
    code's findings (`slpc import` keeps `extra-access`) keeps its count too."""
    return [Finding(DRIFT, artifact, target, f"{prefix}: {x.message}", code=x.direction, not_shown=x.count)
            if isinstance(x, NotShown) else
            Finding(DRIFT, artifact, target, f"{prefix}: {x.message}", code=x.direction, sids=x.sids,
                    request=x.probe.to_json())
            for x in items]


def merge_policy_findings(analyzer: list[Finding], lint: list[Finding]) -> list[Finding]:
    """Access Analyzer's and the offline validator's findings as one list: where both
    report the same issue code on the same statement of the same artifact, one
    finding (Access Analyzer's wording) that names both sources."""
    key = lambda f: (f.artifact, f.code, f.statement)  # noqa: E731
    linted = {key(f) for f in lint}
    merged = [replace(f, also=(SOURCE_LINT,)) if f.kind == ANALYZER and key(f) in linted else f for f in analyzer]
    both = {key(f) for f in merged if f.also}
    return merged + [f for f in lint if key(f) not in both]


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # artifact paths compared and in sync
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (artifact path, why)
    deployed: dict[str, str] = field(default_factory=dict)  # artifact path -> deployed policy JSON text

    @property
    def clean(self) -> bool:
        """No finding above note level (Access Analyzer SUGGESTIONs are notes)."""
        return not any(f.level != "note" for f in self.findings)

    def status(self, path: str) -> str:
        """One word per artifact: the worst of what was found about it."""
        kinds = {f.kind for f in self.findings if f.artifact == path and f.level != "note"}
        for word in (CANNOT_VERIFY, MISSING, DRIFT):
            if word in kinds:
                return word
        if kinds:
            return "findings"
        if path in dict(self.skipped):
            return "skipped"
        return "in-sync" if path in self.checked else "not-compared"
