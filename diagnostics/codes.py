"""The catalogue of diagnostic codes: each code's severity, the stage that raises it and
what it means. `docs/language.md#diagnostics` shows this table; `tests/test_codes.py`
keeps the two, and the codes the source raises, the same. The hint a diagnostic carries
is written where it is raised, since it names the user's own text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core import ERROR, WARNING

DOCS = "docs/language.md#diagnostics"
STAGES = ("input", "syntax", "shape", "names", "values", "grants", "duties", "trust", "emit", "output")


@dataclass(frozen=True)
class Code:
    code: str
    stage: str
    title: str

    @property
    def severity(self) -> str:
        """E codes are errors (they stop the build), W codes warnings."""
        return ERROR if self.code.startswith("E") else WARNING


CODES: dict[str, Code] = {c.code: c for c in (
    Code("E001", "input", "The file cannot be read, or is a directory."),
    Code("E002", "input", "The file is larger than 8 MiB."),
    Code("E003", "input", "The file is binary (contains a NUL byte)."),
    Code("E004", "input", "The file is not valid UTF-8."),
    Code("E005", "input", "The file is empty or only whitespace."),
    Code("E006", "input", "The text looks like JSON, YAML or XML, not `.slp`. This is reported alongside the syntax "
                          "errors."),
    Code("E100", "syntax", "Unexpected token: a stray `}`, a `{` on a line of its own instead of after the "
                           "declaration, or more text after a closing `}`."),
    Code("E101", "syntax", "Unexpected character, for example `@` or `;`."),
    Code("E102", "syntax", "Unterminated string: strings end on the same line."),
    Code("E103", "syntax", "Unknown escape in a string."),
    Code("E104", "syntax", "Unclosed `{`: the file ends inside a block."),
    Code("E105", "syntax", "Unexpected end of file, for example inside a list."),
    Code("E110", "shape", "Unknown declaration keyword. The hint suggests the nearest keyword."),
    Code("E111", "shape", "Unknown attribute in a block."),
    Code("E112", "shape", "Wrong arguments: expected X, found Y, or nothing where more is needed."),
    Code("E113", "shape", "A non-repeatable attribute given twice in a block."),
    Code("E114", "shape", "A required attribute is missing (`deployment`: `account`, `regions`; `key`: `arn`; "
                          "`bucket`, `repository`: `name`). An `endpoint` without `sagemaker` or `apigateway` is "
                          "E320."),
    Code("E115", "shape", "A block is missing after `deployment`, `network`, `key`, `bucket`, `repository` or "
                          "`endpoint`, or a block is given to `role`, `allow` or an attribute."),
    Code("E201", "names", "Unknown name (role, key, network or asset). The hint suggests the nearest."),
    Code("E202", "names", "A name is declared twice, in any file."),
    Code("E203", "names", "A name refers to the wrong kind of declaration, for example a network used as a "
                          "principal."),
    Code("E204", "names", "Unknown verb."),
    Code("E205", "names", "Two declarations name the same AWS resource (same role ARN, key ARN, bucket, repository, "
                          "SageMaker endpoint, or API and stage)."),
    Code("E210", "names", "No `deployment` block."),
    Code("E211", "names", "A second `deployment` block."),
    Code("E301", "values", "Malformed value: partition, account id, organization id, region (or a region of another "
                           "partition), VPC id, VPC endpoint id, subnet id, security group id, bucket name, "
                           "repository name, SageMaker endpoint name, API Gateway API id or stage name."),
    Code("E302", "values", "The deployment names no region."),
    Code("W303", "values", "A region is listed twice."),
    Code("E303", "values", "Unknown endpoint service."),
    Code("E304", "values", "The `cidr` is refused: not a CIDR, host bits set, `/0`, or a private or non-routable "
                           "range."),
    Code("E305", "values", "A network has neither `endpoint` nor `cidr`."),
    Code("E306", "values", "Not an IAM role ARN (user ARNs included)."),
    Code("E307", "values", "A role or key is in another partition than the deployment."),
    Code("E308", "values", "Not a KMS key ARN (alias ARNs included)."),
    Code("E309", "values", "A key, network, repository or endpoint is in a region that the deployment does not list."),
    Code("E310", "values", "A key is not in the deployment account."),
    Code("W311", "values", "A multi-Region key (`mrk-`): its replicas can decrypt in other regions."),
    Code("E312", "values", "A network (with a `vpc` or endpoints), repository or endpoint needs `region`, because the deployment has several regions."),
    Code("E313", "values", "A bucket has no `encrypt` key."),
    Code("E314", "values", "Unknown Object Lock mode."),
    Code("E315", "values", "Object Lock period outside 1–36500 days."),
    Code("W316", "values", "A compliance-mode lock, which nobody can shorten or remove."),
    Code("E317", "values", "Unknown audit kind."),
    Code("E318", "values", "Invalid prefix: `*`, `?`, `${`, control characters, or more than 1,024 bytes."),
    Code("W319", "values", "The prefix does not end with `/`."),
    Code("E319", "values", "`until` is not a valid ISO 8601 instant with an offset."),
    Code("W320", "values", "A network is named twice in one grant."),
    Code("W321", "values", "The grant's `until` has already passed."),
    Code("W322", "values", "A grant repeats an earlier one. The repeat is dropped."),
    Code("W323", "values", "A key encrypts no bucket."),
    Code("W324", "values", "A VPC endpoint id appears in two networks."),
    Code("E320", "values", "An `endpoint` names neither or both of `sagemaker` and `apigateway`."),
    Code("E321", "values", "An `apigateway` endpoint has no `stage`, or a `sagemaker` endpoint has one."),
    Code("E322", "values", "Unknown guardrail in `guardrails` (only `scp`, `rcp`)."),
    Code("E325", "values", "`managed_policies_per_role` outside 1–20 (IAM's default quota is 10, raisable to 20)."),
    Code("E323", "values", "Unknown `signature_age` unit (only `seconds`, `minutes`, `hours`)."),
    Code("E324", "values", "A `signature_age` below 1 second or above 7 days."),
    Code("E326", "values", "Unknown `access_points` mode (only `auto`, `always`, `never`)."),
    Code("E327", "values", "Unknown `endpoint_policies` mode (only `auto`, `no_gaps`, `exact`)."),
    Code("E328", "values", "Unknown `key_policy` mode (only `auto`, `exact`)."),
    Code("E340", "values", "Unknown method in an API route (only GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY)."),
    Code("E341", "values", "An API route's path does not start with `/`."),
    Code("E342", "values", "A character outside letters, digits and `-._~` in an API route's path, an empty "
                           "segment, or a trailing `/`."),
    Code("E343", "values", "A wildcard in an API route other than a trailing `/*`."),
    Code("E344", "grants", "One principal's grants on overlapping routes of one API stage differ in networks or "
                           "expiry."),
    Code("E345", "values", "`backend` or `integration_role` on a SageMaker endpoint, or one of the two without the "
                           "other on an API stage."),
    Code("E346", "values", "An API stage's `backend` is not a SageMaker endpoint."),
    Code("E347", "values", "A malformed `authorizer`: on a SageMaker endpoint, a kind other than `cognito`, or not a "
                           "Cognito user pool ARN of the deployment's partition."),
    Code("E348", "values", "A Cognito user pool in another region than its API stage."),
    Code("E349", "values", "An authorizer's `scopes` are empty, name a scope twice, or hold a scope that is not an "
                           "OAuth scope (printable characters without spaces, quotes or backslashes)."),
    Code("E350", "grants", "A grant to a role on an API stage whose callers a Cognito authorizer admits."),
    Code("E401", "grants", "The verb does not apply to this kind of asset."),
    Code("E402", "grants", "A prefix on a repository or SageMaker endpoint."),
    Code("E403", "grants", "A network has no way to reach the asset's service. For a repository, both `ecr.api` and "
                           "`ecr.dkr` are needed. For an API Gateway endpoint, only an `execute-api` endpoint "
                           "counts, never a CIDR."),
    Code("E404", "duties", "A key has no admins."),
    Code("E405", "duties", "Separation of duty: an admin of the asset, or of its key, is granted a verb on it."),
    Code("E406", "duties", "An admin or breakglass role is in another account than the resource."),
    Code("E407", "grants", "A role of another account is granted `invoke` on a SageMaker endpoint, which has no "
                           "resource policy (API Gateway endpoints accept such grants)."),
    Code("E408", "grants", "One principal's grants on nested prefixes of one asset differ in networks or expiry."),
    Code("W409", "duties", "One role is both admin and breakglass of a bucket."),
    Code("E428", "trust", "An integration role could do more than invoke its backend: it is not of the deployment "
                          "account, its trust is not exactly `assumed_by service apigateway`, it holds grants or "
                          "duties, passes or assumes roles, or calls several backends."),
    Code("E420", "trust", "Unknown way to obtain a role in `assumed_by`."),
    Code("E421", "trust", "Unknown service in `assumed_by service` or `passed_by ... to`."),
    Code("E422", "trust", "A wildcard in what a role trusts: a repository, ref, environment, namespace or service "
                          "account."),
    Code("E423", "trust", "An `assumed_by` qualifier its way does not take, given twice, or missing: EKS Pod Identity "
                          "and IRSA need `namespace` and `service_account`, GitHub exactly one of `ref` or "
                          "`environment`."),
    Code("E424", "trust", "A malformed subject of `assumed_by`: cluster ARN, OIDC issuer, repository, ref, "
                          "environment, permission set or Kubernetes name."),
    Code("E425", "trust", "Trust that admits too much: a role trusting itself, its own account as a whole, or an "
                          "account the spec does not name."),
    Code("E426", "trust", "`passed_by` to a service that does not assume the role, or by a role of another account."),
    Code("E427", "trust", "A `session` outside IAM's range of 1 to 12 hours."),
    Code("W430", "trust", "A role without a block: the spec does not say who may obtain it, and slpc writes no trust "
                          "policy for it."),
    Code("W431", "trust", "Nothing can obtain a role: it has no `assumed_by`, or a service or EKS Pod Identity that "
                          "assumes it has nobody to pass it."),
    Code("W432", "trust", "A role trusts another account as a whole."),
    Code("W433", "trust", "A role is obtained through another spec role whose own trust is unsaid or account-wide."),
    Code("W434", "trust", "A `session` over one hour on a role obtained by role chaining, which AWS caps at one "
                          "hour."),
    Code("W435", "trust", "A role with a block has no admins: the SCP lets nobody change its policies or trust."),
    Code("W437", "trust", "An admin of an asset (or of its key) may pass or assume a role that is granted a verb on "
                          "it, and so touch its data."),
    Code("E440", "values", "An endpoint's type is not `gateway` or `interface`, or `gateway` is given for a service "
                           "that has no gateway endpoints (only `s3` has)."),
    Code("E441", "grants", "A grant on a bucket of another region through a network whose S3 endpoint is a gateway "
                           "endpoint, which reaches only buckets of its own region."),
    Code("E442", "values", "A network client is neither a CIDR range nor a security group id, or has host bits set."),
    Code("E443", "values", "A network client admits every address (`0.0.0.0/0`, `::/0`)."),
    Code("E444", "values", "A network client range is not private (RFC 1918, RFC 6598 100.64.0.0/10, IPv6 ULA "
                           "fc00::/7)."),
    Code("E445", "values", "Two client ranges of one network overlap."),
    Code("E446", "values", "A security group id is declared in two networks of different VPCs: a group of another "
                           "VPC."),
    Code("E447", "values", "A network has `clients` but no `vpc`, so its endpoint security group has no VPC."),
    Code("E448", "grants", "A grant on an asset of another region through a network none of whose interface "
                           "endpoints for a service of the asset reaches that region (an endpoint reaches its VPC's "
                           "region, or the region its line declares); likewise a network of a Cognito authorizer "
                           "whose execute-api endpoints do not reach the stage's region."),
    Code("E449", "values", "`region` on an endpoint line of a gateway endpoint, or of a service AWS PrivateLink has no "
                           "cross-region endpoints for (only `s3`, `ecr.api`, `ecr.dkr` and `kms` have)."),
    Code("W450", "values", "A network has interface endpoints but no `clients`: slpc writes no endpoint security "
                           "group for it."),
    Code("W451", "values", "A network lists `clients` but has no interface endpoint: they are not used."),
    Code("W452", "values", "A network has `subnets` but no `vpc`: slpc writes no workload security group for it."),
    Code("W453", "values", "A network client is listed twice."),
    Code("E455", "values", "The flow-log log group name is not one CloudWatch Logs accepts, or its `retain` is not "
                           "a CloudWatch Logs retention period."),
    Code("E456", "values", "A network of the deployment account is in another region than the flow-log key: slpc "
                           "keeps a flow log, its log group and the key in one region."),
    Code("W457", "values", "A network has a `vpc` but the deployment declares no `flow_logs`: its traffic is not "
                           "recorded."),
    Code("W458", "values", "A network with a `vpc` is in another account than the deployment: slpc writes no flow "
                           "log for it."),
    Code("W436", "emit", "A role passes more than 20 roles to the same services: its identity policy names them by "
                         "family (`role/PATH/*`), which also matches roles outside the spec so named."),
    Code("W331", "emit", "A bucket has no grants: its policy denies every request."),
    Code("W332", "emit", "A repository has no grants: its policy denies every image action."),
    Code("W333", "duties", "A bucket or repository has no admins: nobody can change its policy (the account root can"
                           " recover a bucket)."),
    Code("W350", "emit", "A VPC endpoint that no grant or duty uses: its policy denies everything."),
    Code("W351", "emit", "An S3 or ECR VPC endpoint policy names the grantees' accounts instead of each grantee, "
                         "because naming each does not fit; the bucket and repository policies keep every grant "
                         "exact (the manifest's `coarser`)."),
    Code("W352", "emit", "A KMS key policy names the grantees' accounts instead of each grantee, because naming each "
                         "does not fit; S3 uses the key only for requests the bucket policies authorize, and they keep "
                         "every grant exact (the manifest's `coarser`)."),
    Code("W353", "emit", "A bucket is reached through access points, one per grantee, because its exact policy does "
                         "not fit (`access_points auto`); direct data requests on it are denied (the manifest's "
                         "`coarser`)."),
    Code("W354", "emit", "A bucket delegates to access points while the SCP guardrail is off: only IAM guards "
                         "changes to those access points."),
    Code("W355", "emit", "A bucket has more access points than its policy can name: it trusts those of its account "
                         "by their names' common prefix, which the SCP's DenyAccessPointChanges guards (the "
                         "manifest's `coarser`)."),
    Code("W356", "emit", "An S3 VPC endpoint policy that names accounts still does not fit: it names buckets whose "
                         "names differ in a trailing number by one pattern, within the buckets' accounts "
                         "(`aws:ResourceAccount`); another bucket so named there is reachable through it too (the "
                         "manifest's `coarser`)."),
    Code("W357", "emit", "A SageMaker-runtime or ECR VPC endpoint policy names the grantees' accounts for what no "
                         "resource policy guards (invoking an endpoint, ECR's authorization token), because naming "
                         "each grantee does not fit: a stated gap, where IAM alone decides who among those accounts "
                         "(the manifest's `coarser`)."),
    Code("E501", "emit", "A policy is over AWS's size limit after optimization. The notes name the grants that "
                         "weigh most in it (`file:line:col`); the hint says how its grants, in source order, fit in "
                         "several (buckets, keys, roles, networks): a change that compiles."),
    Code("E502", "emit", "A role's identity statements fit neither inline (10,240 characters) nor in "
                         "`managed_policies_per_role` managed policies of 6,144 characters. Notes and hint as for "
                         "E501."),
    Code("E503", "emit", "More access points in one account and region than S3's quota of 10,000."),
    Code("E520", "emit", "slpc's own validator flags an emitted policy (ERROR or SECURITY_WARNING): a bug in slpc."),
    Code("W520", "emit", "The validator has a WARNING for an emitted policy."),
    Code("E530", "emit", "One SCP or RCP statement is over 5,120 characters even with a single resource, so it "
                         "cannot be split ([guardrails.md](guardrails.md))."),
    Code("W530", "emit", "No network declares `subnets`: the SCP does not require SageMaker jobs and models to run "
                         "in the spec's subnets."),
    Code("W531", "emit", "The spec declares no key: the SCP does not restrict SageMaker's volume and output keys."),
    Code("W532", "emit", "The SCPs or RCPs take more than 4 files, more than AWS Organizations can attach to one "
                         "target beside the AWS-managed full-access policy."),
    Code("W533", "emit", "The deployment writes no SCP, yet only the SCP holds SageMaker endpoints (which have no "
                         "resource policy) and who passes or changes the spec's roles to the spec."),
    Code("W534", "emit", "A SageMaker endpoint or a role whose trust the spec declares is in the organization's "
                         "management account, where no SCP applies: what only the SCP enforces is open there."),
    Code("W535", "emit", "The SCPs hold the SageMaker endpoints to the grantees of any of them, not each to its own: "
                         "the exact form takes more SCPs than AWS Organizations attaches to one target."),
    Code("W536", "emit", "A network with a `vpc` and `subnets` declares no `security_groups`: the SCP either refuses "
                         "SageMaker runs with its workload group or, when no network declares any, does not pin "
                         "SageMaker's security groups at all."),
    Code("E541", "emit", "The audited buckets need more CloudTrail selector values than one trail allows "
                         "(500 values) ([audit.md](audit.md))."),
    Code("E542", "emit", "An EventBridge rule's pattern is over `PutRule`'s 4,096 characters even after a data "
                         "rule is split by `$or` branch (one branch lists more roles of one account than a rule "
                         "holds)."),
    Code("E601", "output", "The output path exists and is not a directory."),
    Code("E602", "output", "The output directory is not empty and holds no slpc `manifest.json`: slpc only replaces "
                           "its own output."),
    Code("E610", "output", "The Terraform module cannot be written: a name or prefix is not in Unicode NFC form, "
                           "which Terraform would normalise."),
)}
