"""Read what is deployed, strictly read-only (Get / List / Describe only).

boto3 is imported only when a `Fetcher` is built. Every read returns a `Read`: the
value, or None with `missing` (the thing does not exist: a finding the caller
words) or `problem` (AccessDenied, malformed: "cannot verify ..."). Failures that
concern the whole run (no credentials, unreachable endpoint, expired token) raise
`LiveConfigError`, which the command turns into one line and exit 2.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
                 "Forbidden", "403"}
FATAL_CODES = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
               "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthFailure", "RequestExpired"}
# Codes that say why a whole service cannot be read here (not a permission).
UNREADABLE = {"AWSOrganizationsNotInUseException": "AWS Organizations is not in use for this account"}
ORG_POLICY_TYPES = {"scp": "SERVICE_CONTROL_POLICY", "rcp": "RESOURCE_CONTROL_POLICY"}


class LiveConfigError(Exception):
    """A problem with the whole run: credentials, endpoint, configuration."""


@dataclass(frozen=True)
class Read:
    value: Any = None
    missing: str | None = None
    problem: str | None = None


def client_config():
    from botocore.config import Config
    return Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=20,
                  user_agent_extra="slpc-validate")


def keep_local_host(client, endpoint_url: str | None) -> None:
    """S3 Control puts the account id in front of the endpoint's host (`ACCOUNT.HOST`); a
    local endpoint given by address (`http://127.0.0.1:PORT`, `localhost`) has no such
    names, so its requests keep the host as given. AWS's own endpoints are untouched."""
    host = urllib.parse.urlsplit(endpoint_url or "").hostname or ""
    if client.meta.service_model.service_name != "s3control" or not (
            host == "localhost" or re.fullmatch(r"[0-9.]+|\[?[0-9a-fA-F:]+\]?", host)):
        return

    def strip(request, **_):
        parts = urllib.parse.urlsplit(request.url)
        if parts.hostname and parts.hostname.endswith("." + host) and parts.hostname != host:
            netloc = parts.netloc.replace(parts.hostname, host, 1)
            request.url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
            request.headers["Host"] = netloc
    client.meta.events.register("before-sign.s3-control", strip)


def _located(arn: str) -> tuple[str | None, str, str]:
    """(region, account, name) of `arn:PARTITION:SERVICE:REGION:ACCOUNT:TYPE/NAME`."""
    parts = arn.split(":", 5)
    return parts[3] or None, parts[4], parts[5].split("/", 1)[1]


def _error_code(exc: Exception) -> str:
    resp = getattr(exc, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", ""))


def _document(raw: Any) -> Any:
    """A policy document as returned by the API: a dict, JSON text, or URL-encoded JSON (IAM)."""
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    if text.lstrip().startswith('{\\"'):  # API Gateway returns its policy with escaped quotes
        text = text.replace('\\"', '"').replace("\\/", "/")
    if text.lstrip().startswith("%7B") or text.lstrip().startswith("%7b"):
        text = urllib.parse.unquote(text)
    return json.loads(text)


class Fetcher:
    def __init__(self, session=None, *, region: str | None = None, endpoint_url: str | None = None,
                 profile: str | None = None):
        import boto3  # only on the online path
        import botocore.exceptions as bex

        self._bex = bex
        try:
            self.session = session or boto3.Session(profile_name=profile, region_name=region)
        except bex.ProfileNotFound as exc:
            raise LiveConfigError(f"profile not found: {exc.kwargs.get('profile', profile)}") from None
        self.region = region or self.session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()  # sessions are not thread-safe; the clients they make are
        self._memo: dict[tuple, Read] = {}

    def client(self, service: str, region: str | None = None):
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                client = self.session.client(service, region_name=key[1], endpoint_url=self.endpoint_url,
                                             config=client_config())
                keep_local_host(client, self.endpoint_url)
                self._clients[key] = client
            return self._clients[key]

    def once(self, key: tuple, read: Callable[[], Read]) -> Read:
        """`read()` done once per key (reads shared by several artifacts: trails, org policies)."""
        with self._lock:
            lock = self._memo.setdefault(("lock",) + key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = read()
            return self._memo[key]

    # -- one call, classified ------------------------------------------------ #
    def call(self, service: str, op: str, permission: str, missing_codes: dict[str, str],
             region: str | None = None, **params) -> Read:
        bex = self._bex
        try:
            return Read(getattr(self.client(service, region), op)(**params))
        except bex.ClientError as exc:
            code = _error_code(exc)
            if code in missing_codes:
                return Read(missing=missing_codes[code])
            if code in ACCESS_DENIED:
                return Read(problem=f"cannot verify: needs {permission}")
            if code in UNREADABLE:
                return Read(problem=f"cannot verify: {UNREADABLE[code]}")
            if code in FATAL_CODES:
                raise LiveConfigError(f"AWS rejected the credentials ({code}); refresh them and retry") from None
            return Read(problem=f"cannot verify: {service} {op} failed with {code or 'an error'}")
        except (bex.NoCredentialsError, bex.PartialCredentialsError):
            raise LiveConfigError("no AWS credentials found (set --profile or the AWS_* environment)") from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ConnectionClosedError) as exc:
            where = self.endpoint_url or getattr(exc, "kwargs", {}).get("endpoint_url", "AWS")
            raise LiveConfigError(f"cannot reach {where}: is the endpoint up and the network reachable?") from None
        except bex.ReadTimeoutError:
            return Read(problem=f"cannot verify: {service} {op} timed out")
        except bex.NoRegionError:
            raise LiveConfigError("no AWS region configured (use --region)") from None
        except bex.ParamValidationError as exc:
            return Read(problem=f"cannot verify: {exc}")

    def parsed(self, read: Read, extract: Callable[[Any], Any]) -> Read:
        """Apply `extract` to a successful read; a malformed answer is a problem, not a crash."""
        if read.value is None:
            return read
        try:
            return Read(extract(read.value))
        except (ValueError, KeyError, TypeError) as exc:
            return Read(problem=f"cannot verify: malformed document returned by AWS ({exc})")

    # -- identity ----------------------------------------------------------- #
    def caller_account(self) -> str:
        read = self.call("sts", "get_caller_identity", "sts:GetCallerIdentity", {})
        if read.value is None:
            raise LiveConfigError(read.problem or "cannot identify the caller (sts:GetCallerIdentity)")
        return read.value["Account"]

    # -- S3 ---------------------------------------------------------------- #
    def bucket_policy(self, bucket: str) -> Read:
        r = self.call("s3", "get_bucket_policy", "s3:GetBucketPolicy",
                      {"NoSuchBucketPolicy": "no bucket policy is attached", "NoSuchBucket": "no such bucket"},
                      Bucket=bucket)
        return self.parsed(r, lambda v: _document(v["Policy"]))

    SETTINGS = {
        # artifact kind: (operation, permission, missing codes, settings key, extractor)
        "s3-bucket-encryption": ("get_bucket_encryption", "s3:GetEncryptionConfiguration",
                                 {"ServerSideEncryptionConfigurationNotFoundError": "no default encryption"},
                                 "ServerSideEncryptionConfiguration", lambda v: v["ServerSideEncryptionConfiguration"]),
        "s3-public-access-block": ("get_public_access_block", "s3:GetBucketPublicAccessBlock",
                                   {"NoSuchPublicAccessBlockConfiguration": "no public access block"},
                                   "PublicAccessBlockConfiguration", lambda v: v["PublicAccessBlockConfiguration"]),
        "s3-versioning": ("get_bucket_versioning", "s3:GetBucketVersioning", {},
                          "VersioningConfiguration",
                          lambda v: {k: v[k] for k in ("Status", "MFADelete") if k in v}),
        "s3-ownership-controls": ("get_bucket_ownership_controls", "s3:GetBucketOwnershipControls",
                                  {"OwnershipControlsNotFoundError": "no ownership controls"},
                                  "OwnershipControls", lambda v: v["OwnershipControls"]),
        "s3-object-lock": ("get_object_lock_configuration", "s3:GetBucketObjectLockConfiguration",
                           {"ObjectLockConfigurationNotFoundError": "no Object Lock configuration"},
                           "ObjectLockConfiguration", lambda v: v["ObjectLockConfiguration"]),
    }

    def bucket_setting(self, kind: str, bucket: str) -> Read:
        op, perm, missing, _key, extract = self.SETTINGS[kind]
        r = self.call("s3", op, perm, {**missing, "NoSuchBucket": "no such bucket"}, Bucket=bucket)
        return self.parsed(r, extract)

    # -- KMS, ECR, EC2, IAM -------------------------------------------------- #
    def key_policy(self, key_arn: str) -> Read:
        region = key_arn.split(":")[3] or None
        r = self.call("kms", "get_key_policy", "kms:GetKeyPolicy", {"NotFoundException": "no such key"},
                      region=region, KeyId=key_arn, PolicyName="default")
        return self.parsed(r, lambda v: _document(v["Policy"]))

    def key_state(self, key_arn: str) -> Read:
        region = key_arn.split(":")[3] or None
        r = self.call("kms", "describe_key", "kms:DescribeKey", {"NotFoundException": "no such key"},
                      region=region, KeyId=key_arn)
        return self.parsed(r, lambda v: v["KeyMetadata"]["KeyState"])

    def access_point_policy(self, arn: str) -> Read:
        """An S3 access point's policy, by its account and name (S3 Control)."""
        region, account, name = _located(arn)
        r = self.call("s3control", "get_access_point_policy", "s3:GetAccessPointPolicy",
                      {"NoSuchAccessPoint": "no such access point",
                       "NoSuchAccessPointPolicy": "no access point policy is set"},
                      region=region, AccountId=account, Name=name)
        return self.parsed(r, lambda v: _document(v["Policy"]))

    def repository_policy(self, repo_arn: str) -> Read:
        region, account, name = _located(repo_arn)
        r = self.call("ecr", "get_repository_policy", "ecr:GetRepositoryPolicy",
                      {"RepositoryPolicyNotFoundException": "no repository policy is set",
                       "RepositoryNotFoundException": "no such repository"},
                      region=region, repositoryName=name, registryId=account)
        return self.parsed(r, lambda v: _document(v["policyText"]))

    def endpoint_policy(self, vpce_id: str) -> Read:
        r = self.call("ec2", "describe_vpc_endpoints", "ec2:DescribeVpcEndpoints",
                      {"InvalidVpcEndpointId.NotFound": "no such VPC endpoint"}, VpcEndpointIds=[vpce_id])

        def extract(v):
            eps = v.get("VpcEndpoints") or []
            if not eps:
                raise ValueError("no such VPC endpoint")
            return _document(eps[0].get("PolicyDocument") or "{}")
        return self.parsed(r, extract)

    def role_policies(self, role_arn: str) -> Read:
        """All statements the role holds: inline policies and attached managed policies'
        default versions, as a list of (label, document dict)."""
        name = role_arn.rsplit("/", 1)[1]
        missing = {"NoSuchEntity": "no such role"}
        out: list[tuple[str, Any]] = []
        names = self.pages("iam", "list_role_policies", "iam:ListRolePolicies", missing, "PolicyNames", "Marker",
                           RoleName=name)
        if names.value is None:
            return names
        for pname in names.value:
            r = self.parsed(self.call("iam", "get_role_policy", "iam:GetRolePolicy", missing,
                                      RoleName=name, PolicyName=pname), lambda v: _document(v["PolicyDocument"]))
            if r.value is None:
                return r
            out.append((f"inline {pname}", r.value))
        attached = self.pages("iam", "list_attached_role_policies", "iam:ListAttachedRolePolicies", missing,
                              "AttachedPolicies", "Marker", RoleName=name)
        if attached.value is None:
            return attached
        for pol in attached.value:
            meta = self.call("iam", "get_policy", "iam:GetPolicy", {"NoSuchEntity": "no such policy"},
                             PolicyArn=pol["PolicyArn"])
            if meta.value is None:
                return meta
            ver = self.parsed(self.call("iam", "get_policy_version", "iam:GetPolicyVersion",
                                        {"NoSuchEntity": "no such policy version"}, PolicyArn=pol["PolicyArn"],
                                        VersionId=meta.value["Policy"]["DefaultVersionId"]),
                              lambda v: _document(v["PolicyVersion"]["Document"]))
            if ver.value is None:
                return ver
            out.append((f"managed {pol['PolicyArn']}", ver.value))
        return Read(out)

    def role_trust(self, role_arn: str) -> Read:
        """The role's trust policy: iam:GetRole's AssumeRolePolicyDocument, URL-encoded JSON
        in the API, which boto3 hands back decoded."""
        r = self.call("iam", "get_role", "iam:GetRole", {"NoSuchEntity": "no such role"},
                      RoleName=role_arn.rsplit("/", 1)[1])
        return self.parsed(r, lambda v: _document(v["Role"]["AssumeRolePolicyDocument"]))

    def roles(self) -> Read:
        """The ARNs of every role of the account (iam:ListRoles)."""
        r = self.pages("iam", "list_roles", "iam:ListRoles", {}, "Roles", "Marker")
        return self.parsed(r, lambda v: sorted(role["Arn"] for role in v))

    def pages(self, service: str, op: str, permission: str, missing: dict[str, str], item: str, token: str,
              region: str | None = None, **params) -> Read:
        """Every page of a List/Describe call: the `item` lists concatenated; `token`
        names the request and response field that carries the next page."""
        items: list = []
        while True:
            r = self.call(service, op, permission, missing, region, **params)
            if r.value is None:
                return r
            items += r.value.get(item) or []
            if not r.value.get(token):
                return Read(items)
            params[token] = r.value[token]

    # -- EC2 security groups ------------------------------------------------ #
    def security_groups(self, vpc: str, names: list[str], region: str) -> Read:
        """The groups of a VPC with these names (ec2:DescribeSecurityGroups): name -> group."""
        r = self.pages("ec2", "describe_security_groups", "ec2:DescribeSecurityGroups", {}, "SecurityGroups",
                       "NextToken", region, Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                     {"Name": "group-name", "Values": sorted(names)}])
        return self.parsed(r, lambda v: {g["GroupName"]: g for g in v})

    def security_group_rules(self, group_id: str, region: str) -> Read:
        """A group's rules (ec2:DescribeSecurityGroupRules), each with IsEgress."""
        return self.pages("ec2", "describe_security_group_rules", "ec2:DescribeSecurityGroupRules", {},
                          "SecurityGroupRules", "NextToken", region,
                          Filters=[{"Name": "group-id", "Values": [group_id]}])

    def prefix_lists(self, region: str) -> Read:
        """The region's managed prefix lists: id -> name (ec2:DescribeManagedPrefixLists)."""
        def read() -> Read:
            r = self.pages("ec2", "describe_managed_prefix_lists", "ec2:DescribeManagedPrefixLists", {},
                           "PrefixLists", "NextToken", region)
            return self.parsed(r, lambda v: {p["PrefixListId"]: p["PrefixListName"] for p in v})
        return self.once(("prefix-lists", region), read)

    def endpoint_groups(self, vpce_id: str, region: str) -> Read:
        """The security group ids an interface endpoint uses (ec2:DescribeVpcEndpoints)."""
        r = self.call("ec2", "describe_vpc_endpoints", "ec2:DescribeVpcEndpoints",
                      {"InvalidVpcEndpointId.NotFound": "no such VPC endpoint"}, region, VpcEndpointIds=[vpce_id])
        return self.parsed(r, lambda v: sorted(g["GroupId"] for g in v["VpcEndpoints"][0].get("Groups", [])))

    # -- VPC flow logs and their log group --------------------------------- #
    def flow_logs(self, vpc: str, region: str) -> Read:
        """The flow logs of a VPC (ec2:DescribeFlowLogs)."""
        return self.pages("ec2", "describe_flow_logs", "ec2:DescribeFlowLogs", {}, "FlowLogs", "NextToken", region,
                          Filters=[{"Name": "resource-id", "Values": [vpc]}])

    def log_group(self, name: str, region: str) -> Read:
        """The log group of this exact name (logs:DescribeLogGroups by prefix), or missing."""
        r = self.pages("logs", "describe_log_groups", "logs:DescribeLogGroups", {}, "logGroups", "nextToken", region,
                       logGroupNamePrefix=name)
        if r.value is None:
            return r
        found = [g for g in r.value if g.get("logGroupName") == name]
        return Read(found[0]) if found else Read(missing=f"no log group named {name}")

    # -- API Gateway, CloudTrail, EventBridge, GuardDuty, Organizations ----- #
    def rest_api_policy(self, api_arn: str) -> Read:
        """The REST API's resource policy (arn:aws:apigateway:REGION::/restapis/ID)."""
        region, api_id = api_arn.split(":")[3] or None, api_arn.rsplit("/", 1)[1]
        r = self.call("apigateway", "get_rest_api", "apigateway:GET", {"NotFoundException": "no such REST API"},
                      region=region, restApiId=api_id)
        if r.value is not None and not r.value.get("policy"):
            return Read({}, missing="no resource policy is set")
        return self.parsed(r, lambda v: _document(v["policy"]))

    def trail_selectors(self, region: str | None = None) -> Read:
        """[(trail ARN, advanced selectors, basic selectors)] of every trail that logs in `region`."""
        def read() -> Read:
            trails = self.call("cloudtrail", "describe_trails", "cloudtrail:DescribeTrails", {}, region)
            if trails.value is None:
                return trails
            out = []
            for t in trails.value.get("trailList") or []:
                sel = self.call("cloudtrail", "get_event_selectors", "cloudtrail:GetEventSelectors",
                                {"TrailNotFoundException": "no such trail"}, t.get("HomeRegion") or region,
                                TrailName=t["TrailARN"])
                if sel.value is None:
                    return sel
                out.append((t["TrailARN"], sel.value.get("AdvancedEventSelectors") or [],
                            sel.value.get("EventSelectors") or []))
            return Read(out)
        return self.once(("trails", region or self.region), read)

    def event_rule(self, rule_arn: str) -> Read:
        """An EventBridge rule on the default bus: its pattern (parsed) and state."""
        region, name = rule_arn.split(":")[3] or None, rule_arn.rsplit("/", 1)[1]
        r = self.call("events", "describe_rule", "events:DescribeRule",
                      {"ResourceNotFoundException": "no such EventBridge rule"}, region, Name=name)
        return self.parsed(r, lambda v: {"EventPattern": json.loads(v.get("EventPattern") or "null"),
                                         "State": v.get("State")})

    def guardduty_detector(self, region: str) -> Read:
        """The region's GuardDuty detector (Status, Features), or missing when there is none."""
        ids = self.pages("guardduty", "list_detectors", "guardduty:ListDetectors", {}, "DetectorIds",
                         "NextToken", region)
        if ids.value is None:
            return ids
        if not ids.value:
            return Read(missing="no GuardDuty detector in " + region)
        r = self.call("guardduty", "get_detector", "guardduty:GetDetector", {}, region, DetectorId=ids.value[0])
        return self.parsed(r, lambda v: {"Status": v["Status"], "Features": v.get("Features") or []})

    def org_policies(self, kind: str) -> Read:
        """[(name, document)] of the organization's customer-managed SCPs or RCPs."""
        def read() -> Read:
            ptype = ORG_POLICY_TYPES[kind]
            listed = self.pages("organizations", "list_policies", "organizations:ListPolicies", {}, "Policies",
                                "NextToken", "us-east-1", Filter=ptype)
            if listed.value is None:
                return listed
            out = []
            for p in listed.value:
                if p.get("AwsManaged"):
                    continue  # FullAWSAccess / RCPFullAWSAccess: allow-all, part of every comparison
                r = self.parsed(self.call("organizations", "describe_policy", "organizations:DescribePolicy",
                                          {"PolicyNotFoundException": "no such policy"}, "us-east-1",
                                          PolicyId=p["Id"]),
                                lambda v: _document(v["Policy"]["Content"]))
                if r.value is None:
                    return r
                out.append((p.get("Name", p["Id"]), r.value))
            return Read(out)
        return self.once(("org", kind), read)
