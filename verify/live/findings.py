"""What `slpc validate` reports: one Finding per problem, and the run's Report."""

from __future__ import annotations

from dataclasses import dataclass, field

# Finding kinds.
DRIFT = "drift"  # deployed differs in meaning from compiled
MISSING = "missing"  # the deployed resource or document does not exist
CANNOT_VERIFY = "cannot-verify"  # AccessDenied, malformed document, unsupported
ANALYZER = "access-analyzer"  # an IAM Access Analyzer ValidatePolicy finding

SOURCE_SLPC, SOURCE_ANALYZER = "slpc", "access-analyzer"
LEVELS = ("error", "warning", "note")


@dataclass(frozen=True)
class Finding:
    kind: str
    artifact: str  # the artifact path in the manifest layout (s3/weights.json)
    target: str  # the ARN or id the artifact attaches to
    message: str
    level: str = "error"
    source: str = SOURCE_SLPC
    code: str = ""
    sids: tuple[str, ...] = ()
    request: dict | None = None  # a counterexample request, for drift

    def to_json(self) -> dict:
        out = {"kind": self.kind, "artifact": self.artifact, "target": self.target, "level": self.level,
               "source": self.source, "code": self.code or self.kind, "message": self.message}
        if self.sids:
            out["sids"] = list(self.sids)
        if self.request is not None:
            out["request"] = self.request
        return out


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # artifact paths compared and in sync
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (artifact path, why)

    @property
    def clean(self) -> bool:
        """No finding above note level (Access Analyzer SUGGESTIONs are notes)."""
        return not any(f.level != "note" for f in self.findings)
