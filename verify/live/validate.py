"""Compiled artifacts against what is deployed: the body of `slpc validate`."""

from __future__ import annotations

from typing import Any, Iterable

from slpc.targets.document import PolicyDocument, PolicyFormatError, Statement, from_json

from . import compare as C
from .fetch import Fetcher, Read
from .findings import CANNOT_VERIFY, DRIFT, MISSING, Finding, Report

POLICY_KINDS = {"s3-bucket-policy", "kms-key-policy", "ecr-repository-policy", "vpc-endpoint-policy",
                "iam-identity-policy"}
SETTING_KINDS = set(Fetcher.SETTINGS)
EMPTY = PolicyDocument(())


def _doc(obj: Any) -> PolicyDocument:
    return EMPTY if obj in ({}, None) else from_json(obj)


def _merged(docs: Iterable[tuple[str, Any]]) -> PolicyDocument:
    statements: list[Statement] = []
    for _label, obj in docs:
        statements += list(_doc(obj).statements)
    return PolicyDocument(tuple(statements))


def _bucket(art) -> str:
    if art.settings and "Bucket" in art.settings:
        return art.settings["Bucket"]
    return art.target.split(":::", 1)[1]


def _subset_diff(want: Any, have: Any, path: str) -> list[str]:
    """Where `have` lacks what `want` says (extra deployed fields are fine)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{path} is {have!r}, the spec says {want!r}"]
        out = []
        for k, v in want.items():
            out += _subset_diff(v, have.get(k), f"{path}.{k}" if path else k)
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) < len(want):
            return [f"{path} is {have!r}, the spec says {want!r}"]
        out = []
        for i, v in enumerate(want):
            out += _subset_diff(v, have[i], f"{path}[{i}]")
        return out
    if want != have:
        return [f"{path} is {have!r}, the spec says {want!r}" if have is not None
                else f"{path} is not set, the spec says {want!r}"]
    return []


class Validator:
    """`fetcher` reads the default credentials' `account`; `others` maps further
    account ids to the fetcher (session) that reads them (--account-profile)."""

    def __init__(self, fetcher: Fetcher, account: str | None = None, others: dict[str, Fetcher] | None = None):
        self.f = fetcher
        self.account = account
        self.fetchers: dict[str, Fetcher] = dict(others or {})
        if account is not None:
            self.fetchers.setdefault(account, fetcher)

    def fetcher_for(self, account: str | None) -> Fetcher | None:
        """The fetcher that reads `account`, or None when no credentials are for it."""
        if self.account is None and not self.fetchers:
            return self.f  # account unknown: read everything with the one session
        return self.fetchers.get(account) if account is not None else None

    def run(self, artifacts) -> Report:
        rep = Report()
        default = self.f
        try:
            for art in artifacts:
                if art.kind not in SETTING_KINDS and art.kind not in POLICY_KINDS:
                    rep.skipped.append((art.path, f"{art.kind}: not checked by this version of slpc validate"))
                    continue
                f = self.fetcher_for(art.account)
                if f is None:
                    rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target,
                                                f"cannot verify: no credentials for account {art.account} "
                                                f"(add --account-profile {art.account}=PROFILE)",
                                                code="other-account"))
                    continue
                self.f = f
                if art.kind in SETTING_KINDS:
                    self._setting(art, rep)
                else:
                    self._policy(art, rep)
        finally:
            self.f = default
        return rep

    # -------------------------------------------------------------------- #
    def _problem(self, art, read: Read, rep: Report) -> bool:
        if read.problem:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target, read.problem, code="cannot-verify"))
            return True
        return False

    def _setting(self, art, rep: Report) -> None:
        read = self.f.bucket_setting(art.kind, _bucket(art))
        if self._problem(art, read, rep):
            return
        key = Fetcher.SETTINGS[art.kind][3]
        want = art.settings.get(key, {})
        if read.missing:
            rep.findings.append(Finding(MISSING, art.path, art.target,
                                        f"{art.kind}: {read.missing} on bucket {_bucket(art)}", code=art.kind))
            return
        problems = _subset_diff(want, read.value, key)
        if problems:
            for p in problems:
                rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: {p}", code=art.kind))
        else:
            rep.checked.append(art.path)

    def _read_policy(self, art) -> Read:
        if art.kind == "s3-bucket-policy":
            return self.f.bucket_policy(_bucket(art))
        if art.kind == "kms-key-policy":
            return self.f.key_policy(art.target)
        if art.kind == "ecr-repository-policy":
            return self.f.repository_policy(art.target)
        if art.kind == "vpc-endpoint-policy":
            return self.f.endpoint_policy(art.target)
        return self.f.role_policies(art.target)

    def _policy(self, art, rep: Report) -> None:
        read = self._read_policy(art)
        if self._problem(art, read, rep):
            return
        if read.missing in ("no such bucket", "no such key", "no such repository", "no such role",
                            "no such VPC endpoint"):
            rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {read.missing}",
                                        code="missing-resource"))
            return
        try:
            deployed = _merged(read.value) if art.kind == "iam-identity-policy" else _doc(read.value)
        except (PolicyFormatError, ValueError, TypeError) as exc:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target,
                                        f"cannot verify: the deployed policy is malformed ({exc})",
                                        code="malformed-policy"))
            return
        if read.missing:  # no policy at all: compare the empty policy, for counterexamples
            rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {read.missing}",
                                        code="missing-policy"))
        if art.kind == "kms-key-policy":
            state = self.f.key_state(art.target)
            if state.problem:
                rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target, state.problem, code="cannot-verify"))
            elif state.value not in (None, "Enabled"):
                rep.findings.append(Finding(DRIFT, art.path, art.target, f"key state is {state.value}, not Enabled",
                                            code="key-state"))
        drifts = C.compare(deployed, art.document, art.kind, art.target, art.account)
        for d in drifts:
            rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: {d.message}",
                                        code=d.direction, sids=d.sids, request=d.probe.to_json()))
        if not drifts and not read.missing:
            rep.checked.append(art.path)
