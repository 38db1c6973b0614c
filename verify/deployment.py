"""A compiled deployment as the evaluator sees it: which policies apply to a request.

Routes a request to the principal's identity policies (inline and managed, which
AWS unions) and the resource's policy
(bucket, repository, key, or a role's trust policy) by ARN, exactly as AWS would pick them, so tests,
`slpc explain` and the differential properties ask one question: "would AWS
allow this request under these artifacts?"

Requests on a role are how its credentials are obtained, and a SageMaker endpoint
has no resource policy, so requests on either also meet the organization's
guardrails: the SCPs of the caller's account and the RCPs of the resource's. "May X assume role R with context C?" is
`decide(X, "sts:AssumeRole", R, C)`; "may X pass R to service S?" is
`decide(X, "iam:PassRole", R, {"iam:PassedToService": S})`; a web identity is the
caller `arn:aws:iam::<acct>:oidc-provider/<issuer>` with its token's claims
(`<issuer>:sub`, `<issuer>:aud`) in C (see `request`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from slpc.policy.document import PolicyDocument, Statement, from_json
from slpc.policy.kinds import GUARDRAIL_KINDS, IDENTITY_KINDS, RESOURCE_KINDS

from .evaluate import CompiledPolicy, Decision, Evaluator, both, compile_policy
from .request import ContextValue, Request, classify_principal

IDENTITY = "iam-identity-policy"
ENDPOINT = "vpc-endpoint-policy"
TRUST = "iam-role-trust-policy"
SCP, RCP = "scp", "rcp"
# AWS's FullAWSAccess, beside which slpc's deny-only SCPs are attached (docs/guardrails.md)
FULL_ACCESS = Statement("Allow", actions=("*",), resources=("*",), sid="FullAWSAccess")
EXTRA_IDENTITY = "extra identity policy"  # the label of `decide`'s extra_identity policies


@dataclass(frozen=True)
class Policy:
    kind: str
    target: str
    account: str
    label: str  # the artifact path, shown in explanations
    document: PolicyDocument
    within: str | None = None  # an access point's bucket ARN


def resource_owner(resource_arn: str) -> str:
    """The ARN whose policy governs this resource (an S3 object's bucket or access point)."""
    parts = resource_arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "s3":
        if parts[5].startswith("accesspoint/"):
            return "/".join(resource_arn.split("/", 2)[:2])
        return resource_arn.split("/", 1)[0]
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "execute-api":  # the REST API's own policy
        return f"arn:{parts[1]}:apigateway:{parts[3]}::/restapis/{parts[5].split('/', 1)[0]}"
    return resource_arn


def rests_on_guardrails(arn: str) -> bool:
    """A role, or a SageMaker endpoint: no resource policy of its own holds an account's
    callers to the spec there (IAM has none, SageMaker endpoints have none), the SCPs do."""
    parts = arn.split(":", 5)
    return names_role(arn) or (len(parts) == 6 and parts[2] == "sagemaker" and parts[5].startswith("endpoint/"))


def names_role(arn: str) -> bool:
    """Whether the ARN is an IAM role's: requests on it obtain or change the role."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5].startswith("role/")


class Deployment:
    def __init__(self, policies: Iterable[Policy]):
        self.identity: dict[str, list] = {}
        self.resource: dict[str, tuple[Policy, object]] = {}
        self.endpoints: dict[str, object] = {}  # VPC endpoint id -> its compiled policy
        self.within: dict[str, str] = {}  # access point ARN -> its bucket's ARN
        self.guardrails: dict[str, list[tuple[Policy, CompiledPolicy]]] = {SCP: [], RCP: []}
        self.accounts: set[str] = set()  # the accounts of the artifacts: those an organization's guardrails cover
        for p in policies:
            self.accounts.add(p.account)
            if p.document is None:  # settings, not a policy
                continue
            if p.kind in IDENTITY_KINDS:
                self.identity.setdefault(p.target, []).append(compile_policy(p.document, "identity", p.label))
            elif p.kind in RESOURCE_KINDS:
                self.resource[p.target] = (p, compile_policy(p.document, "resource", p.label))
                if p.within:
                    self.within[p.target] = p.within
            elif p.kind == ENDPOINT:
                self.endpoints[p.target] = compile_policy(p.document, "endpoint", p.label)
            elif p.kind == SCP:
                doc = PolicyDocument(p.document.statements + (FULL_ACCESS,), p.document.version)
                self.guardrails[SCP].append((p, compile_policy(doc, "scp", p.label)))
            elif p.kind == RCP:
                self.guardrails[RCP].append((p, compile_policy(p.document, "rcp", p.label)))
        self._cache: dict[tuple, Evaluator] = {}

    @classmethod
    def from_artifacts(cls, artifacts: Iterable) -> "Deployment":
        """From `slpc.targets.Artifact`s (in memory)."""
        return cls(Policy(a.kind, a.target, a.account, a.path, a.document, a.within) for a in artifacts)

    @classmethod
    def from_directory(cls, directory: str | Path) -> "Deployment":
        """From an output directory in slpc's manifest layout (compiled, or fetched from AWS)."""
        root = Path(directory)
        manifest = json.loads((root / "manifest.json").read_text())
        return cls(Policy(a["kind"], a["target"], a["account"], a["path"],
                          from_json(json.loads((root / a["path"]).read_text())), a.get("within"))
                   for a in manifest["artifacts"]
                   if a["kind"] in RESOURCE_KINDS | IDENTITY_KINDS | GUARDRAIL_KINDS | {ENDPOINT})

    def evaluator(self, principal: str | None, resource: str,
                  extra_identity: Sequence[PolicyDocument] = (), vpce: str | None = None,
                  action: str | None = None) -> Evaluator:
        """The policies for this caller and resource; a request through a VPC endpoint
        that has a policy is also filtered by it. Given the `action`, a role's trust policy
        governs only STS requests (IAM has no resource policies), and requests on a role or
        a SageMaker endpoint meet the guardrails."""
        endpoint = self.endpoints.get(vpce) if vpce else None
        owner = self.resource.get(resource_owner(resource))
        if owner is not None and owner[0].kind == TRUST and action and not action.lower().startswith("sts:"):
            owner = None
        guarded = action is not None and rests_on_guardrails(resource)
        key = (principal, resource_owner(resource), tuple(id(d) for d in extra_identity), vpce if endpoint else None,
               owner is not None, guarded)
        ev = self._cache.get(key)
        if ev is None:
            identity = list(self.identity.get(principal or "", []))
            identity += [(EXTRA_IDENTITY, d) for d in extra_identity]
            scps, rcps = self._guardrails(principal, resource) if guarded else ([], [])
            ev = Evaluator(identity=identity, resource=owner[1] if owner else None,
                           endpoint=endpoint, endpoint_id=vpce if endpoint else None, scps=scps, rcps=rcps)
            self._cache[key] = ev
        return ev

    def _guardrails(self, principal: str | None, resource: str) -> tuple[list[CompiledPolicy], list[CompiledPolicy]]:
        """The SCPs of the caller's account and the RCPs of the resource's account."""
        caller, owner = classify_principal(principal)[1], resource.split(":")[4]
        return ([c for p, c in self.guardrails[SCP] if self._covers(p, caller)],
                [c for p, c in self.guardrails[RCP] if self._covers(p, owner)])

    def _covers(self, guardrail: Policy, account: str | None) -> bool:
        """A guardrail for an organization covers the artifacts' accounts (its members, as the
        compiler writes it); one for an account covers that account."""
        if guardrail.target.startswith("o-"):
            return account in self.accounts
        return account == guardrail.target

    def attach_access_point(self, arn: str, bucket_arn: str) -> None:
        """An access point the compiled artifacts do not declare (someone made it) on one
        of their buckets: requests through it meet that bucket's policy."""
        self.within[arn] = bucket_arn
        self._cache.clear()

    def resource_account(self, resource: str) -> str | None:
        owner = self.resource.get(resource_owner(resource))
        return owner[0].account if owner else None

    def decide(self, principal: str | None, action: str, resource: str,
               context: Mapping[str, ContextValue] | None = None,
               extra_identity: Sequence[PolicyDocument] = (),
               resource_account: str | None = None) -> Decision:
        """AWS's decision for one request. `extra_identity` adds policies the role also
        holds outside the spec (e.g. AdministratorAccess)."""
        access_point = resource_owner(resource)
        bucket = self.within.get(access_point)
        if bucket is not None:  # AWS names the access point in the request context
            account = access_point.split(":")[4]
            context = {"s3:DataAccessPointArn": access_point, "s3:DataAccessPointAccount": account,
                       "s3:AccessPointNetworkOrigin": "Internet", **(context or {})}
        req = Request(principal, action, resource, context=context,
                      resource_account=resource_account or self.resource_account(resource))
        vpce = req.context.get("aws:sourcevpce", (None,))[0]
        decision = self.evaluator(principal, resource, extra_identity, vpce, action).evaluate(req)
        if bucket is None:
            return decision
        behind = bucket + resource[len(access_point):].replace("/object/", "/", 1)
        breq = Request(principal, action, behind, context=context, resource_account=self.resource_account(behind))
        return both(decision, self.evaluator(None, behind, (), vpce).behind_access_point(breq))
