"""Organization guardrails: service control policies (SCPs) and resource control
policies (RCPs) that hold the spec's perimeter even against the account itself.

Resource and identity policies live in the account and can be changed by whoever
administers it; SCPs and RCPs are attached from the organization's management
account, so they are the second line. What each statement is for, and what the
user attaches where, is in docs/guardrails.md.

Entry point: `guardrail_artifacts(model)`. Every policy is built from the shared
document model, split to fit AWS's 5,120-character limit (minified), and is
Deny-only: SCPs and RCPs never grant.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Sequence

from slpc.compiler import verbs as V
from slpc.compiler.trust import TRUSTED_SERVICES
from slpc.compiler.model import Model
from slpc.compiler.security_groups import WORKLOAD, group_name
from slpc.diagnostics import Diagnostic, error, warning

from . import perimeter
from slpc.policy.document import Condition, PolicyDocument, Principal, Statement
from .access_points import access_point_pattern
from .patterns import family_patterns
from .role_families import role_families
from .denies import Entitlement, deny_outside_grants, deny_ungranted
from .grants import sid, unique_sids, uses
from .fit import pack
from slpc.policy.limits import RULES, measure
from .artifact import Artifact
from .cloudformation import logical_id


SCP, RCP = "scp", "rcp"

# AWS Organizations: at most 5 SCPs (and 5 RCPs) attached to one root, OU or
# account, the AWS-managed FullAWSAccess / RCPFullAWSAccess included.
ATTACH_QUOTA = 5

# --------------------------------------------------------------------------- #
# Condition keys (the global ones slpc already names are in perimeter.py)

REQUESTED_REGION = "aws:RequestedRegion"
PRINCIPAL_ORG = "aws:PrincipalOrgID"
PRINCIPAL_ACCOUNT = "aws:PrincipalAccount"
SOURCE_ORG = "aws:SourceOrgID"
SOURCE_ACCOUNT = "aws:SourceAccount"
SM_SUBNETS = "sagemaker:VpcSubnets"
SM_SECURITY_GROUPS = "sagemaker:VpcSecurityGroupIds"
SM_ISOLATION = "sagemaker:NetworkIsolation"
SM_ICT_ENCRYPTION = "sagemaker:InterContainerTrafficEncryption"
SM_DIRECT_INTERNET = "sagemaker:DirectInternetAccess"
SM_APP_NETWORK = "sagemaker:AppNetworkAccessType"
# The Service Authorization Reference names these `...KmsKey` (type ARN); there is
# no `...KmsKeyArn` form in it.
SM_VOLUME_KEY = "sagemaker:VolumeKmsKey"
SM_OUTPUT_KEY = "sagemaker:OutputKmsKey"
KMS_MULTI_REGION = "kms:MultiRegion"

# --------------------------------------------------------------------------- #
# Action families of the guardrails

# Regional services that hold or move model IP: denied outside the deployment's
# regions. Global services (IAM, STS, Organizations, CloudFront, Route 53...)
# are exempt by not being listed. S3 is handled apart, see S3_REGIONAL_RESOURCES.
REGIONAL_ML_ACTIONS = ("bedrock:*", "ecr:*", "execute-api:*", "kms:*", "sagemaker:*")
# S3's account-level actions (ListAllMyBuckets, the account's public access
# block, listing access points or jobs) take Resource "*" and are served from a
# single endpoint for the console; scoping the deny to S3 resource ARNs leaves
# them out without NotAction and without a hand-kept list of S3 actions.
S3_REGIONAL_ACTIONS = ("s3:*",)


def s3_regional_resources(partition: str) -> tuple[str, ...]:
    """Every S3 resource ARN: buckets and objects (empty region and account, which
    `*` matches), access points, Object Lambda, batch jobs, Storage Lens and
    Multi-Region Access Points."""
    return (f"arn:{partition}:s3:*:*:*",)


# SageMaker resources that run the spec's data or models. Which key applies to
# which action is the Service Authorization Reference's (tests check it against
# the catalogue).
SM_VPC_JOBS = ("sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateProcessingJob",
               "sagemaker:CreateTrainingJob")
SM_MODEL = ("sagemaker:CreateModel",)
SM_ENDPOINT_CONFIG = ("sagemaker:CreateEndpointConfig",)
SM_TRANSFORM = ("sagemaker:CreateTransformJob",)
# Where people work on models: notebook instances and Studio domains. Both default to direct
# internet access (DirectInternetAccess "Enabled", AppNetworkAccessType "PublicInternetOnly"),
# so only an explicit "Disabled" / "VpcOnly" is allowed at creation; an update that leaves the
# setting out keeps it.
SM_NOTEBOOK = ("sagemaker:CreateNotebookInstance",)
SM_DOMAIN_CREATE = ("sagemaker:CreateDomain",)
SM_DOMAIN_UPDATE = ("sagemaker:UpdateDomain",)
# Must run in the spec's subnets (absent VPC config denied).
SM_REQUIRE_VPC = SM_VPC_JOBS + SM_MODEL
# Must not name a foreign subnet or security group. CreateEndpointConfig's VpcConfig
# is optional (classic endpoints take the model's), so only a foreign value is denied;
# a notebook without a subnet is denied by its internet rule, and a domain always has subnets.
SM_NO_FOREIGN_VPC = SM_REQUIRE_VPC + SM_ENDPOINT_CONFIG + SM_NOTEBOOK + SM_DOMAIN_CREATE + SM_DOMAIN_UPDATE
SM_REQUIRE_ISOLATION = SM_VPC_JOBS + SM_MODEL
SM_REQUIRE_ICT_ENCRYPTION = SM_VPC_JOBS
SM_OUTPUT_KEY_ACTIONS = SM_VPC_JOBS + SM_TRANSFORM
SM_VOLUME_KEY_ACTIONS = SM_VPC_JOBS + SM_TRANSFORM + SM_ENDPOINT_CONFIG
# A missing volume key is not denied: SageMaker refuses VolumeKmsKeyId on instance
# types with local NVMe storage (p4d, p5, g5, trn1: the LLM training types), whose
# volumes the hardware encrypts. Set to True to require it anyway.
REQUIRE_VOLUME_KEY = False

AUDIT_TAMPERING_ACTIONS = (
    "cloudtrail:DeleteEventDataStore", "cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors",
    "cloudtrail:StopEventDataStoreIngestion", "cloudtrail:StopLogging", "cloudtrail:UpdateEventDataStore",
    "cloudtrail:UpdateTrail",
    "guardduty:CreateFilter", "guardduty:CreateIPSet", "guardduty:DeleteDetector", "guardduty:DeleteMembers",
    "guardduty:DeletePublishingDestination", "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount", "guardduty:DisassociateMembers", "guardduty:StopMonitoringMembers",
    "guardduty:UpdateDetector", "guardduty:UpdateFilter", "guardduty:UpdateIPSet", "guardduty:UpdateMemberDetectors",
    "guardduty:UpdateOrganizationConfiguration", "guardduty:UpdatePublishingDestination",
)
KMS_MULTI_REGION_ACTIONS = ("kms:ReplicateKey", "kms:UpdatePrimaryRegion")
# Whoever could create, delete or re-policy the spec's access points could open a bucket
# that delegates to them: only the admins of their buckets may.
ACCESS_POINT_CHANGES = ("s3:CreateAccessPoint", "s3:DeleteAccessPoint", "s3:DeleteAccessPointPolicy",
                        "s3:PutAccessPointPolicy")
S3_REPLICATION_CHANGES = ("s3:PutReplicationConfiguration",)
ECR_REPLICATION_CHANGES = ("ecr:PutReplicationConfiguration",)

# Who may become the spec's roles: changing a role's trust or policies, or handing it to a
# service, is as good as becoming it. Only its admins may change it, only its declared
# passers may pass it (targets/trust.py writes their identity side).
ROLE_CHANGES = ("iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole")
PASSED_TO_SERVICE = "iam:PassedToService"
# STS calls that obtain a role's credentials with AWS credentials (RCP: from the declared accounts only)
STS_WITH_CREDENTIALS = ("sts:AssumeRole", "sts:SetContext", "sts:SetSourceIdentity", "sts:TagSession")

# RCPs: what the perimeter covers on each kind of resource.
RCP_ASSET_ACTIONS = {"bucket": ("s3:*",), "repository": ("ecr:*",), "key": ("kms:*",)}
# EBS calls KMS for encrypted volumes (SageMaker's, with the spec's volume key) as
# this AWS-owned role, outside any network of the spec.
EC2_INFRASTRUCTURE = "arn:{partition}:iam::*:role/aws:ec2-infrastructure"


# --------------------------------------------------------------------------- #
# Small builders


def _deny(name: str, actions: Iterable[str], *conditions: Condition,
          resources: Sequence[str] = ("*",), rcp: bool = False) -> Statement:
    return Statement("Deny", actions=tuple(sorted(set(actions))), resources=tuple(resources),
                     conditions=tuple(sorted(conditions, key=lambda c: (c.operator, c.key))),
                     sid=name, principal=Principal.any() if rcp else None)


def _sorted(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _admins(model: Model, kinds: Iterable[str]) -> tuple[str, ...]:
    """Role ARNs of the admins of the spec's assets of these kinds (keys: "key")."""
    kinds = set(kinds)
    names: set[str] = set()
    for a in model.assets.values():
        if a.kind in kinds:
            names.update(a.admins)
    if "key" in kinds:
        for k in model.keys.values():
            names.update(k.admins)
    return _sorted(model.principals[n].arn for n in names)


def spec_accounts(model: Model) -> tuple[str, ...]:
    """Every account the spec names: the deployment's, its roles', networks', assets' and keys'."""
    accts = {model.deployment.account}
    accts.update(p.account for p in model.principals.values())
    accts.update(n.account for n in model.networks.values())
    accts.update(a.account for a in model.assets.values())
    accts.update(k.account for k in model.keys.values())
    return _sorted(accts)


# --------------------------------------------------------------------------- #
# SCP statements


def scp_statements(model: Model, exact_endpoints: bool = True) -> tuple[list[Statement], list[Diagnostic]]:
    dep = model.deployment
    diags: list[Diagnostic] = []
    out = [
        _deny("DenyMlServicesOutsideRegions", REGIONAL_ML_ACTIONS,
              Condition("StringNotEquals", REQUESTED_REGION, dep.regions)),
        _deny("DenyS3OutsideRegions", S3_REGIONAL_ACTIONS,
              Condition("StringNotEquals", REQUESTED_REGION, dep.regions),
              resources=s3_regional_resources(dep.partition)),
    ]
    out += _sagemaker_statements(model, diags)
    out += _endpoint_statements(model, exact_endpoints)
    out += [
        _deny("DenyAuditTampering", AUDIT_TAMPERING_ACTIONS,
              *perimeter.principal_is_not(_admins(model, ("bucket", "repository", "key")))),
        _deny("DenyMultiRegionKeys", ("kms:CreateKey",), Condition("Bool", KMS_MULTI_REGION, ("true",))),
        _deny("DenyKeyReplication", KMS_MULTI_REGION_ACTIONS),
        _deny("DenyS3ReplicationChanges", S3_REPLICATION_CHANGES,
              *perimeter.principal_is_not(_admins(model, ("bucket",)))),
        _deny("DenyEcrReplicationChanges", ECR_REPLICATION_CHANGES,
              *perimeter.principal_is_not(_admins(model, ("repository",)))),
    ]
    out += _role_statements(model)
    reached = [a for a in model.assets_of("bucket") if model.access_points(a.name)]
    if reached:
        admins = _sorted(model.principals[n].arn for a in reached for n in a.admins)
        out.append(_deny("DenyAccessPointChanges", ACCESS_POINT_CHANGES, *perimeter.principal_is_not(admins),
                         resources=_briefly(access_point_pattern(model, a) for a in reached)))
    return out, diags


def _briefly(resources: Iterable[str], every: Iterable[str] | None = None) -> tuple[str, ...]:
    """Resources of a Deny, each numbered family of buckets, repositories or access point
    names (`acme-ml-weights-00` … `-119`, with their objects) as one pattern when the Deny
    names the whole family -- of `every` resource of its kind that the guardrails name,
    else another statement's conditions would reach this one's members. Stricter only: it
    also covers other resources so named. It keeps a guardrail within its 5,120
    characters on a platform of hundreds of buckets (docs/guardrails.md)."""
    resources = set(resources)
    patterns = family_patterns(resources if every is None else every)
    members: dict[str, set[str]] = {}
    for r, pattern in patterns.items():
        members.setdefault(pattern, set()).add(r)
    return _sorted(patterns[r] if r in patterns and members[patterns[r]] <= resources else r for r in resources)


def _governed_roles(model: Model) -> list:
    """The roles whose trust the spec declares, in name order (the others are W430's)."""
    return sorted((p for p in model.principals.values() if p.trust is not None), key=lambda p: p.name)


def _grouped(model: Model, roles, by: Callable) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(a key, the ARNs of the roles that share it), in key order."""
    groups: dict[tuple[str, ...], list] = {}
    for p in roles:
        groups.setdefault(by(p), []).append(p)
    return sorted((k, role_families(model, members)) for k, members in groups.items())


def _role_statements(model: Model) -> list[Statement]:
    roles = _governed_roles(model)
    arn = lambda names: _sorted(model.principals[n].arn for n in names)
    out = []
    for passers, arns in _grouped(model, roles, lambda p: arn(x for x, _ in p.passers)):
        out.append(_deny("DenyPassingRolesButByTheirPassers", ("iam:PassRole",), *perimeter.principal_is_not(passers),
                         resources=arns))
    for services, arns in _grouped(model, [p for p in roles if p.passers], lambda p: _sorted(s for _, s in p.passers)):
        out.append(_deny("DenyPassingRolesToOtherServices", ("iam:PassRole",),
                         Condition("StringNotEquals", PASSED_TO_SERVICE, services), resources=arns))
    for admins, arns in _grouped(model, roles, lambda p: arn(p.admins)):
        out.append(_deny("DenyRoleChangesButByTheirAdmins", ROLE_CHANGES, *perimeter.principal_is_not(admins),
                         resources=arns))
    return out


def _undeclared_workload_groups(model: Model, pinned: bool) -> list[Diagnostic]:
    """W536: slpc writes a workload group for each network with a `vpc` and `subnets`, but its id
    is known only once created, so the spec cannot yet name it in `security_groups`."""
    out = []
    for n in sorted(model.networks.values(), key=lambda n: n.name):
        if not (n.vpc and n.subnets) or n.security_groups:
            continue
        name = group_name(model, n.name, WORKLOAD)
        what = (f"the SCP refuses SageMaker runs with its workload group {name} until its id is declared" if pinned
                else "no network declares any, so the SCP does not pin SageMaker's security groups at all")
        out.append(warning("W536", f"network `{n.name}` has `subnets` but no `security_groups`: {what}", None,
                           f"after the first deployment, list {name}'s id (Terraform output `security_group_ids`, "
                           f"CloudFormation output `{logical_id(n.name, WORKLOAD, 'SecurityGroupId')}`) in the "
                           "network's `security_groups` and recompile"))
    return out


def _sagemaker_statements(model: Model, diags: list[Diagnostic]) -> list[Statement]:
    subnets = _sorted(s for n in model.networks.values() for s in n.subnets)
    groups = _sorted(g for n in model.networks.values() for g in n.security_groups)
    keys = _sorted(k.arn for k in model.keys.values())
    out: list[Statement] = []
    if subnets:
        out += [
            _deny("DenySageMakerWithoutVpc", SM_REQUIRE_VPC, Condition("Null", SM_SUBNETS, ("true",))),
            _deny("DenySageMakerForeignSubnets", SM_NO_FOREIGN_VPC,
                  Condition("ForAnyValue:StringNotEquals", SM_SUBNETS, subnets)),
        ]
        if groups:
            out.append(_deny("DenySageMakerForeignSecurityGroups", SM_NO_FOREIGN_VPC,
                             Condition("ForAnyValue:StringNotEquals", SM_SECURITY_GROUPS, groups)))
        diags += _undeclared_workload_groups(model, bool(groups))
    else:
        diags.append(warning(
            "W530", "no network declares `subnets`: the SCP does not require SageMaker jobs and models "
            "to run in the spec's VPC subnets", None,
            'declare the training subnets in a network: subnets ["subnet-..."]'))
    out += [
        _deny("DenySageMakerWithoutNetworkIsolation", SM_REQUIRE_ISOLATION,
              Condition("BoolIfExists", SM_ISOLATION, ("false",))),
        _deny("DenySageMakerEndpointConfigWithoutIsolation", SM_ENDPOINT_CONFIG,
              Condition("Bool", SM_ISOLATION, ("false",))),
        _deny("DenySageMakerUnencryptedInterContainerTraffic", SM_REQUIRE_ICT_ENCRYPTION,
              Condition("BoolIfExists", SM_ICT_ENCRYPTION, ("false",))),
        _deny("DenySageMakerNotebooksWithInternet", SM_NOTEBOOK,
              Condition("StringNotEquals", SM_DIRECT_INTERNET, ("Disabled",))),
        _deny("DenySageMakerStudioWithInternet", SM_DOMAIN_CREATE,
              Condition("StringNotEquals", SM_APP_NETWORK, ("VpcOnly",))),
        _deny("DenySageMakerStudioOpenedToInternet", SM_DOMAIN_UPDATE,
              Condition("StringNotEquals", SM_APP_NETWORK, ("VpcOnly",)), Condition("Null", SM_APP_NETWORK, ("false",))),
    ]
    sagemaker = TRUSTED_SERVICES["sagemaker"].principal
    runners = role_families(model, [p for p in _governed_roles(model) if any(s == sagemaker for _, s in p.passers)])
    if runners:  # jobs and models run only as roles the spec passes to SageMaker: their S3 access is its grants
        out.append(Statement("Deny", actions=("iam:PassRole",), not_resources=runners,
                             conditions=(Condition("StringEquals", PASSED_TO_SERVICE, (sagemaker,)),),
                             sid="DenyPassingOtherRolesToSageMaker"))
    if keys:
        volume_present = () if REQUIRE_VOLUME_KEY else (Condition("Null", SM_VOLUME_KEY, ("false",)),)
        out += [
            _deny("DenySageMakerOtherOutputKeys", SM_OUTPUT_KEY_ACTIONS,
                  Condition("ArnNotEquals", SM_OUTPUT_KEY, keys)),
            _deny("DenySageMakerOtherVolumeKeys", SM_VOLUME_KEY_ACTIONS,
                  Condition("ArnNotEquals", SM_VOLUME_KEY, keys), *volume_present),
        ]
    else:
        diags.append(warning(
            "W531", "the spec declares no key: the SCP does not restrict SageMaker's volume and output keys",
            None, "declare the KMS key that encrypts model data with `key NAME { arn ... admins [...] }`"))
    return out


def _endpoint_statements(model: Model, exact: bool = True) -> list[Statement]:
    """Invoking the spec's SageMaker endpoints: only their grantees, from their grants' networks,
    within their windows. An endpoint has no resource policy, so in its account an identity
    policy allowing `sagemaker:*` (an administrator's) would otherwise invoke it from anywhere;
    the SCP is the only policy that can hold such a caller to the spec (docs/guardrails.md).

    Exact: each endpoint denied to all but its own grantees. Not `exact` (when the exact form
    would take more SCPs than AWS attaches, W535): every endpoint denied to all but the grantees
    of any of them, so a grantee of one that also holds broad IAM permissions reaches the others.
    The network and window denies are those of a resource policy (targets/denies.py), merged
    over all endpoints for each grantee whose grants share one class."""
    endpoints = model.assets_of("endpoint")
    if not endpoints:
        return []
    services = V.ASSET_SERVICES["endpoint"]
    invoke = V.ASSET_KINDS["endpoint"].data_actions
    every = _briefly(a.arn for a in endpoints)
    ents = {a.name: [Entitlement(u.grant.principal, act, "", u.grant.networks, u.grant.until)
                     for u in uses(model, model.grants_on(a.name)) for act in u.actions] for a in endpoints}
    grantees = lambda es: [model.principals[n] for n in sorted({e.principal for e in es})]  # noqa: E731
    gateways = lambda a: [model.principals[n] for n in model.integration_roles(a.name)]  # noqa: E731
    if exact:
        out = [_deny(sid("DenyInvoking", a.name, "ButByItsGrantees"), invoke,
                     *perimeter.principal_is_not(p.arn for p in grantees(ents[a.name]) + gateways(a)),
                     resources=(a.arn,))
               for a in endpoints]
    else:
        everyone = grantees(e for es in ents.values() for e in es) + [p for a in endpoints for p in gateways(a)]
        out = [_deny("DenyInvokingEndpointsButByTheirGrantees", invoke,
                     *perimeter.principal_is_not(role_families(model, everyone)), resources=every)]
    out += _integration_statements(model, endpoints, ents, exact)
    classes: dict[str, set] = {}
    for e in (e for es in ents.values() for e in es):
        classes.setdefault(e.principal, set()).add((e.networks, e.until))
    within = lambda resources: lambda kind, mode, prefixes: (resources, (), ())  # noqa: E731
    one_class = [e for es in ents.values() for e in es if len(classes[e.principal]) == 1]
    denies = deny_outside_grants(model, one_class, services, lambda a: V.ENDPOINT, within(every))
    for a in endpoints:  # a grantee whose grants differ by endpoint: per endpoint, or their union
        several = [e for e in ents[a.name] if len(classes[e.principal]) > 1]
        if several and exact:
            denies += deny_outside_grants(model, several, services, lambda a: V.ENDPOINT, within((a.arn,)))
    if not exact:
        several = [e for es in ents.values() for e in es if len(classes[e.principal]) > 1]
        denies += deny_outside_grants(model, several, services, lambda a: V.ENDPOINT, within(every))
    return out + [replace(st, principal=None, sid=sid("DenyInvoking", st.sid.removeprefix("Deny")),
                          conditions=tuple(_as_families(model, c) for c in st.conditions))
                  for st in denies]


def _integration_statements(model: Model, endpoints, ents, exact: bool) -> list[Statement]:
    """The integration roles of API stages (compiler/integrations.py) are admitted above to
    invoke their backend from API Gateway's network; these denies hold each to
    `INTEGRATION_ACTIONS` on its own backend alone. Exact: the others are already denied to
    it by their own statements; the merged form denies it every other endpoint here."""
    invoke = V.ASSET_KINDS["endpoint"].data_actions
    others = tuple(sorted(set(invoke) - set(V.INTEGRATION_ACTIONS)))
    out = []
    for a in endpoints:
        roles = model.integration_roles(a.name)
        if not roles:
            continue
        holders = sorted({model.principals[e.principal].arn for e in ents[a.name]})
        out.append(_deny(sid("DenyInvoking", a.name, "OtherwiseButByItsGrantees"), others,
                         *perimeter.principal_is_not(holders), resources=(a.arn,)))
        if not exact and len(endpoints) > 1:
            out.append(_deny(sid("DenyInvokingButBy", a.name, "ItsIntegrationRoles"), invoke,
                             perimeter.principal_is(model.principals[r].arn for r in roles),
                             resources=_briefly((e.arn for e in endpoints if e.name != a.name),
                                                every=[e.arn for e in endpoints])))  # never a family with a.arn
    return out


def _as_families(model: Model, c: Condition) -> Condition:
    """A Deny's "the caller is one of these roles" with each family of them as one pattern
    (`role_families`): stricter only, it also names roles outside the spec so named."""
    if c.operator != "ArnEquals" or c.key != perimeter.PRINCIPAL_ARN:
        return c
    by_arn = {p.arn: p for p in model.principals.values()}
    return c._replace(values=role_families(model, [by_arn[v] for v in c.values]))


# --------------------------------------------------------------------------- #
# RCP statements


def rcp_statements(model: Model) -> list[Statement]:
    org = model.deployment.org
    accounts = spec_accounts(model)
    targets = _rcp_targets(model)
    if not targets:
        return _assume_statements(model)
    every = _sorted(r for _, _, _, resources in targets for r in resources)
    all_resources = _briefly(every)
    # The identity perimeter covers every action of the service on the resource.
    all_actions = _sorted(a for kind, _, _, _ in targets for a in RCP_ASSET_ACTIONS[kind])

    identity = [Condition("StringNotEqualsIfExists", PRINCIPAL_ACCOUNT, accounts),
                Condition("BoolIfExists", perimeter.PRINCIPAL_IS_SERVICE, ("false",))]
    deputy = [Condition("StringNotEqualsIfExists", SOURCE_ACCOUNT, accounts),
              Condition("Null", SOURCE_ACCOUNT, ("false",)),
              Condition("Bool", perimeter.PRINCIPAL_IS_SERVICE, ("true",))]
    if org:
        identity.append(Condition("StringNotEqualsIfExists", PRINCIPAL_ORG, (org,)))
        deputy.append(Condition("StringNotEqualsIfExists", SOURCE_ORG, (org,)))
    out = _assume_statements(model)
    out += [
        _deny("DenyPrincipalsOutsidePerimeter", all_actions, *identity, resources=all_resources, rcp=True),
        _deny("DenyServicesForOthers", all_actions, *deputy, resources=all_resources, rcp=True),
    ]
    # Network perimeter: one statement per distinct (actions, conditions), resources merged.
    groups: dict[tuple[tuple[str, ...], tuple[Condition, ...]], list[str]] = {}
    for _, actions, conditions, resources in targets:
        groups.setdefault((actions, conditions), []).extend(resources)
    for (actions, conditions), resources in sorted(groups.items(), key=lambda kv: (kv[0][0], sorted(kv[1]))):
        label = {"s3": "Buckets", "ecr": "Repositories", "kms": "Keys"}[actions[0].split(":")[0]]
        out.append(_deny(sid("DenyOutsideNetworks", label), actions, *conditions,
                         resources=_briefly(resources, every), rcp=True))
    return out


def _assume_statements(model: Model) -> list[Statement]:
    """STS on the spec's roles: with AWS credentials only from the accounts their trust
    names; never with SAML (no way of the spec uses it); with a web identity token only
    for the roles that trust an OIDC provider. AWS services (SageMaker, EKS Pod Identity)
    are governed by iam:PassRole and the trust policy's conditions instead."""
    roles = _governed_roles(model)
    def accounts(p) -> tuple[str, ...]:
        named = [model.principals[w.subject].account for w in p.trust if w.via == "role"]
        return _sorted([p.account] + named + [w.subject for w in p.trust if w.via == "account"])
    out = [_deny("DenyAssumingRolesFromOtherAccounts", STS_WITH_CREDENTIALS,
                 Condition("StringNotEqualsIfExists", PRINCIPAL_ACCOUNT, accts),
                 Condition("BoolIfExists", perimeter.PRINCIPAL_IS_SERVICE, ("false",)), resources=arns, rcp=True)
           for accts, arns in _grouped(model, roles, accounts)]
    if roles:
        out.append(_deny("DenySamlForRoles", ("sts:AssumeRoleWithSAML",), resources=role_families(model, roles),
                         rcp=True))
    no_oidc = [p for p in roles if not any(w.via in ("irsa", "github") for w in p.trust)]
    if no_oidc:
        out.append(_deny("DenyWebIdentityForRoles", ("sts:AssumeRoleWithWebIdentity",),
                         resources=role_families(model, no_oidc), rcp=True))
    return out


def _rcp_targets(model: Model) -> list[tuple[str, tuple[str, ...], tuple[Condition, ...], tuple[str, ...]]]:
    """(kind, network-perimeter actions and conditions, resource ARNs) for each bucket,
    repository and key of the spec."""
    part = model.deployment.partition
    grant_nets: dict[str, set[str]] = {}
    for g in model.grants:
        grant_nets.setdefault(g.asset, set()).update(g.networks)
    key_nets: dict[str, set[str]] = {}
    out = []
    for a in sorted(model.assets.values(), key=lambda a: a.name):
        if a.kind not in ("bucket", "repository"):
            continue
        nets = sorted(grant_nets.get(a.name, ()))
        if a.kind == "bucket" and a.key:
            key_nets.setdefault(a.key, set()).update(nets)
        conds = perimeter.outside(model, nets, V.ASSET_SERVICES[a.kind]) + perimeter.NOT_AWS_SERVICE
        resources = (a.arn, a.object_arn_prefix + "*") if a.kind == "bucket" else (a.arn,)
        out.append((a.kind, RCP_ASSET_ACTIONS[a.kind], conds, resources))
    for k in sorted(model.keys.values(), key=lambda k: k.name):
        # Only cryptographic use: administration stays reachable for the key's admins
        # wherever they are (the identity perimeter still applies). S3's own calls for
        # SSE-KMS come via an AWS service and are exempt.
        nets = sorted(key_nets.get(k.name, ()))
        conds = perimeter.outside(model, nets, ("kms",)) + perimeter.NOT_AWS_SERVICE + (
            Condition("ArnNotLikeIfExists", perimeter.PRINCIPAL_ARN, (EC2_INFRASTRUCTURE.format(partition=part),)),)
        out.append(("key", tuple(sorted(V.KMS_CRYPTO_ACTIONS)), conds, (k.arn,)))
    return out


# --------------------------------------------------------------------------- #
# Fitting statements into policies


# --------------------------------------------------------------------------- #
# Entry point


def _resting_on_scp(model: Model, account: str | None = None) -> list[str]:
    """What only the SCP holds to the spec (in `account`, or anywhere): each SageMaker endpoint
    (no resource policy), and who passes or changes each role whose trust the spec declares."""
    endpoints = [f"SageMaker endpoint `{a.name}`" for a in model.assets_of("endpoint")
                 if account in (None, a.account)]
    roles = [p.name for p in _governed_roles(model) if account in (None, p.account)]
    return endpoints + ([f"role{'s' if len(roles) > 1 else ''} {', '.join(f'`{r}`' for r in roles)}"] if roles else [])


def scp_gaps(model: Model) -> list[Diagnostic]:
    """Where the spec says more than AWS enforces without an SCP: the deployment writes none
    (W533), or the asset lives in the organization's management account, which no SCP
    restricts (W534). Each names what is left open."""
    dep = model.deployment
    gap = ("an identity policy of its account allowing sagemaker:InvokeEndpoint (an administrator's) "
           "invokes the endpoints from anywhere, and one allowing iam:PassRole or iam:PutRolePolicy "
           "passes or changes the roles")
    if SCP not in dep.guardrails:
        return [warning("W533", f"{what} is held to the spec only by the SCP, which this deployment does not "
                        "write", None, f"without it {gap}: keep `scp` in guardrails")
                for what in _resting_on_scp(model)]
    if dep.management_account is None:
        return []
    return [warning("W534", f"{what} is in the organization's management account {dep.management_account}, "
                    "where SCPs do not apply", None,
                    f"there {gap}; move them to a member account (docs/guardrails.md)")
            for what in _resting_on_scp(model, dep.management_account)]


def guardrail_artifacts(model: Model) -> tuple[list[Artifact], list[Diagnostic]]:
    """The SCP and RCP artifacts of the deployment (kinds `scp`, `rcp`), each within
    5,120 characters minified, skipping a kind the deployment opted out of."""
    dep = model.deployment
    target = dep.org or dep.account
    arts: list[Artifact] = []
    diags: list[Diagnostic] = []
    builders: dict[str, Callable[[], tuple[list[Statement], list[Diagnostic]]]] = {
        SCP: lambda: scp_statements(model),
        RCP: lambda: (rcp_statements(model), []),
    }
    diags += scp_gaps(model)
    if SCP not in dep.guardrails:
        for a in model.assets_of("bucket"):
            if model.access_points(a.name):
                diags.append(warning("W354", f"bucket `{a.name}` delegates to access points that only IAM guards",
                                     None, "without the SCP (`guardrails`), anyone whose IAM policies allow "
                                     "s3:PutAccessPointPolicy or s3:DeleteAccessPoint on them can change who "
                                     "reaches the bucket: keep `scp` in guardrails"))
    for kind in (SCP, RCP):
        if kind not in dep.guardrails:
            continue
        statements, more = builders[kind]()
        docs, too_big = pack(kind, unique_sids(statements))
        if kind == SCP and len(docs) > ATTACH_QUOTA - 1 and len(model.assets_of("endpoint")) > 1:
            statements, more = scp_statements(model, exact_endpoints=False)
            docs, too_big = pack(kind, unique_sids(statements))
            more.append(warning(
                "W535", f"the SCPs hold the {len(model.assets_of('endpoint'))} SageMaker endpoints to the grantees "
                "of any of them, not each to its own: exact, they take more SCPs than AWS Organizations "
                "attaches", None, "a grantee of one endpoint whose IAM policies also allow "
                "sagemaker:InvokeEndpoint on the others (beyond what slpc gives it) can invoke them; keep "
                "grantees' IAM policies to slpc's, or give each group of endpoints its own account"))
        diags += more
        rule = RULES[kind]
        diags += [error("E530", f"the {rule.what} statement {s.sid} is {measure(kind, PolicyDocument((s,))):,} "
                        f"{rule.unit} on its own, over AWS's limit of {rule.limit:,}: it cannot be split without "
                        "changing its meaning", None,
                        "declare fewer subnets, security groups, keys, admins, regions or networks for it to list")
                  for s in too_big]
        if len(docs) > ATTACH_QUOTA - 1:
            diags.append(warning(
                "W532", f"the {RULES[kind].what} guardrails take {len(docs)} policies; AWS Organizations "
                f"attaches at most {ATTACH_QUOTA} to one target, the AWS-managed full-access policy included",
                None, "attach them at different levels (organization root, OU, account) or narrow the spec"))
        for n, doc in enumerate(docs, 1):
            arts.append(Artifact(kind, target, dep.account, f"org/{kind}-{n}.json", f"{kind}-{n}", doc))
    return arts, diags
