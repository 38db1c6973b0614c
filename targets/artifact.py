"""`Artifact`: one output file of a build, the plain data every later stage reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from slpc.policy.document import PolicyDocument, dumps, pretty
from slpc.policy.limits import RULES, count


@dataclass(frozen=True)
class Artifact:
    """One output file: a policy document, or a settings document (a dict shaped
    like the AWS API request that applies it)."""

    kind: str
    target: str  # the ARN (or id) the document attaches to
    account: str
    path: str  # relative to the output directory
    name: str  # the declared slpc name
    document: PolicyDocument | None = None
    settings: dict | None = None
    coarser: str | None = None  # how this layer is coarser than the spec, when it must be to fit
    within: str | None = None  # an access point's bucket (its ARN): the other policy its requests need

    @cached_property  # lint, manifest and writer all read it
    def text(self) -> str:
        if self.document is not None:
            return dumps(self.document)
        return pretty(self.settings)

    @property
    def size(self) -> int:
        """The policy's size as AWS counts it for its kind, on the text slpc writes."""
        return count(RULES[self.kind], self.text)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()
