"""Compiled artifacts against what is deployed: the body of `slpc validate`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Iterable

from slpc.policy.document import PolicyDocument, PolicyFormatError, Statement, dumps, from_json
from slpc.verify.edges import questions as edge_questions

from slpc.policy.kinds import FLOW_LOG_KINDS, SECURITY_GROUP_KINDS

from . import detection as A
from . import compare as C
from . import flow_logs as FL
from . import security_groups as SG
from .fetch import Fetcher, Read
from .findings import CANNOT_VERIFY, DRIFT, MISSING, Finding, Report, drift_findings

POLICY_KINDS = {"s3-bucket-policy", "s3-access-point-policy", "kms-key-policy", "ecr-repository-policy", "vpc-endpoint-policy",
                "iam-identity-policy", "iam-role-trust-policy", "apigateway-resource-policy", "scp", "rcp"}
AUDIT_KINDS = {"cloudtrail-event-selectors", "eventbridge-rule", "guardduty-feature"}
ORG_KINDS = C.ORG_KINDS
WORKERS = 6  # small: AWS throttles per account, and botocore retries adaptively
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


MANAGED_KIND = "iam-managed-policy"


def whole_roles(artifacts) -> tuple[list, dict[str, list[str]]]:
    """The artifacts with each role's managed policies (slpc splits a role's policy
    into them when it does not fit inline) joined into one identity-policy artifact,
    at the first one's path: AWS reads a role's inline and attached managed policies
    as one set, and so does the comparison. Also: first path -> the other paths."""
    out, groups, first_of = [], {}, {}
    for art in artifacts:
        if art.kind != MANAGED_KIND:
            out.append(art)
            continue
        key = (art.account, art.target)
        if key not in first_of:
            first_of[key] = len(out)
            groups[art.path] = []
            out.append(replace(art, kind="iam-identity-policy"))
        else:
            head = out[first_of[key]]
            groups[head.path].append(art.path)
            out[first_of[key]] = replace(head, document=PolicyDocument(head.document.statements
                                                                       + art.document.statements))
    return out, groups


class Validator:
    """`fetcher` reads the default credentials' `account`; `others` maps further
    account ids to the fetcher (session) that reads them (--account-profile).
    `model` (the checked spec) adds the spec's own edge requests to the probes."""

    def __init__(self, fetcher: Fetcher, account: str | None = None, others: dict[str, Fetcher] | None = None,
                 model=None):
        self.f = fetcher
        self.account = account
        self.questions = edge_questions(model) if model is not None else []
        self.fetchers: dict[str, Fetcher] = dict(others or {})
        if account is not None:
            self.fetchers.setdefault(account, fetcher)

    def fetcher_for(self, account: str | None) -> Fetcher | None:
        """The fetcher that reads `account`, or None when no credentials are for it."""
        if self.account is None and not self.fetchers:
            return self.f  # account unknown: read everything with the one session
        return self.fetchers.get(account) if account is not None else None

    def run(self, artifacts, progress: Callable[[int, int], None] | None = None) -> Report:
        """Every artifact checked on a small thread pool; the report lists them in
        artifact order whatever order the reads finish in."""
        arts, groups = whole_roles(artifacts)
        done = [0]
        lock = threading.Lock()

        def one(art) -> Report:
            rep = self._one(art)
            if progress is not None:
                with lock:  # one count, one line at a time
                    done[0] += 1
                    progress(done[0], len(arts))
            return rep

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            parts = list(pool.map(one, arts))
        rep = Report()
        for part in parts:
            rep.findings += part.findings
            rep.checked += part.checked
            rep.skipped += part.skipped
            rep.deployed.update(part.deployed)
        for head, others in groups.items():  # a role's managed policies share one verdict
            if head in rep.checked:
                rep.checked += others
            else:
                rep.skipped += [(p, f"compared together with {head}, the same role's policies") for p in others]
        return rep

    def _one(self, art) -> Report:
        rep = Report()
        if art.kind not in SETTING_KINDS | POLICY_KINDS | AUDIT_KINDS | SECURITY_GROUP_KINDS | FLOW_LOG_KINDS:
            rep.skipped.append((art.path, f"{art.kind}: not checked by this version of slpc validate"))
            return rep
        f = self.fetcher_for(art.account)
        if f is None:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target,
                                        f"cannot verify: no credentials for account {art.account} "
                                        f"(add --account-profile {art.account}=PROFILE)", code="other-account"))
        elif art.kind in SETTING_KINDS:
            self._setting(f, art, rep)
        elif art.kind in SECURITY_GROUP_KINDS:
            SG.check(f, art, rep)
        elif art.kind == "ec2-flow-log":
            FL.check_flow_log(f, art, rep)
        elif art.kind in FLOW_LOG_KINDS:
            FL.check_destination(f, art, rep)
        elif art.kind in AUDIT_KINDS:
            self._audit(f, art, rep)
        else:
            self._policy(f, art, rep)
        return rep

    # -------------------------------------------------------------------- #
    @staticmethod
    def _problem(art, read: Read, rep: Report) -> bool:
        if read.problem:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target, read.problem, code="cannot-verify"))
            return True
        return False

    @staticmethod
    def _drifts(art, problems: list[str], rep: Report) -> None:
        for p in problems:
            rep.findings.append(Finding(DRIFT, art.path, art.target, f"{art.kind}: {p}", code=art.kind))
        if not problems:
            rep.checked.append(art.path)

    def _setting(self, f: Fetcher, art, rep: Report) -> None:
        read = f.bucket_setting(art.kind, _bucket(art))
        if self._problem(art, read, rep):
            return
        key = Fetcher.SETTINGS[art.kind][3]
        if read.missing:
            rep.findings.append(Finding(MISSING, art.path, art.target,
                                        f"{art.kind}: {read.missing} on bucket {_bucket(art)}", code=art.kind))
            return
        self._drifts(art, _subset_diff(art.settings.get(key, {}), read.value, key), rep)

    def _audit(self, f: Fetcher, art, rep: Report) -> None:
        region = art.target if art.kind == "guardduty-feature" else None
        read = {"cloudtrail-event-selectors": lambda: f.trail_selectors(),
                "eventbridge-rule": lambda: f.event_rule(art.target),
                "guardduty-feature": lambda: f.guardduty_detector(region)}[art.kind]()
        if self._problem(art, read, rep):
            return
        if read.missing:
            rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {read.missing}",
                                        code=art.kind))
            return
        if art.kind == "cloudtrail-event-selectors":
            if not read.value:
                rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: no trail in this region",
                                            code=art.kind))
                return
            trails = ", ".join(arn for arn, _a, _b in read.value)
            problems = [f"selector {name!r} is logged by no trail ({trails})"
                        for name in A.missing_selectors(art.settings["AdvancedEventSelectors"], read.value)]
        elif art.kind == "eventbridge-rule":
            problems = [f"EventPattern.{p}" for p in A.pattern_diff(art.settings["EventPattern"],
                                                                     read.value["EventPattern"])]
            if read.value["State"] != art.settings["State"]:
                problems.append(f"State is {read.value['State']}, the spec says {art.settings['State']}")
        else:
            problems = A.feature_problems(art.settings["Features"], read.value)
        self._drifts(art, problems, rep)

    def _read_policy(self, f: Fetcher, art) -> Read:
        if art.kind == "s3-bucket-policy":
            return f.bucket_policy(_bucket(art))
        if art.kind == "s3-access-point-policy":
            return f.access_point_policy(art.target)
        if art.kind == "kms-key-policy":
            return f.key_policy(art.target)
        if art.kind == "ecr-repository-policy":
            return f.repository_policy(art.target)
        if art.kind == "vpc-endpoint-policy":
            return f.endpoint_policy(art.target)
        if art.kind == "apigateway-resource-policy":
            return f.rest_api_policy(art.target)
        if art.kind == "iam-role-trust-policy":
            return f.role_trust(art.target)
        if art.kind in ORG_KINDS:
            read = f.org_policies(art.kind)
            if read.value == []:
                return Read([], missing=f"no customer-managed {art.kind.upper()} in the organization")
            return read
        return f.role_policies(art.target)

    def _policy(self, f: Fetcher, art, rep: Report) -> None:
        read = self._read_policy(f, art)
        if self._problem(art, read, rep):
            return
        if read.missing in ("no such bucket", "no such access point", "no such key", "no such repository", "no such role",
                            "no such VPC endpoint", "no such REST API"):
            rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {read.missing}",
                                        code="missing-resource"))
            return
        try:
            merged = art.kind == "iam-identity-policy" or art.kind in ORG_KINDS
            deployed = _merged(read.value or ()) if merged else _doc(read.value)
        except (PolicyFormatError, ValueError, TypeError) as exc:
            rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target,
                                        f"cannot verify: the deployed policy is malformed ({exc})",
                                        code="malformed-policy"))
            return
        if not read.missing:
            rep.deployed[art.path] = dumps(deployed)
        if read.missing:  # no policy at all: compare the empty policy, for counterexamples
            rep.findings.append(Finding(MISSING, art.path, art.target, f"{art.kind}: {read.missing}",
                                        code="missing-policy"))
        if art.kind == "kms-key-policy":
            state = f.key_state(art.target)
            if state.problem:
                rep.findings.append(Finding(CANNOT_VERIFY, art.path, art.target, state.problem, code="cannot-verify"))
            elif state.value not in (None, "Enabled"):
                rep.findings.append(Finding(DRIFT, art.path, art.target, f"key state is {state.value}, not Enabled",
                                            code="key-state"))
        drifts = C.compare_counted(deployed, art.document, art.kind, art.target, art.account,
                                   extra=C.model_probes(self.questions, art))
        if art.kind in ORG_KINDS:  # other guardrails of the organization may deny more: not slpc's drift
            drifts = [d for d in drifts if d.direction == C.EXTRA]
        rep.findings += drift_findings(art.path, art.target, art.kind, drifts)
        if not drifts and not read.missing:
            rep.checked.append(art.path)
