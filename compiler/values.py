"""Validation of the literal values a spec carries: ids, ARNs, CIDRs, dates.

Each validator returns None when the value is good, or (message, hint). Formats
follow the AWS documentation for each identifier.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone

Problem = tuple[str, str] | None

# The units a spec writes durations in (signature ages, session durations).
TIME_UNITS_MS = {"seconds": 1000, "minutes": 60_000, "hours": 3_600_000}

PARTITIONS = {
    # partition: the region name pattern it admits
    "aws": r"(?:us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d",
    "aws-cn": r"cn-[a-z]+-\d",
    "aws-us-gov": r"us-gov-[a-z]+-\d",
    "aws-iso": r"us-iso-[a-z]+-\d",
    "aws-iso-b": r"us-isob-[a-z]+-\d",
    "aws-iso-e": r"eu-isoe-[a-z]+-\d",
    "aws-iso-f": r"us-isof-[a-z]+-\d",
    "aws-eusc": r"eusc-[a-z]+-[a-z]+-\d",
}

# The DNS suffix of service endpoints in each partition (kms:ViaService names S3 by it).
DNS_SUFFIX = {
    "aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov", "aws-iso-e": "cloud.adc-e.uk",
    "aws-iso-f": "csp.hci.ic.gov", "aws-eusc": "amazonaws.eu",
}

_ROLE_ARN = re.compile(r"arn:([a-z-]+):iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})", re.ASCII)
_KEY_ARN = re.compile(r"arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_SAGEMAKER = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def _identifier(pattern: str, what: str, hint: str):
    """A validator for an identifier with a fixed format."""
    compiled = re.compile(pattern)

    def check(value: str) -> Problem:
        return None if compiled.fullmatch(value) else (f'"{value}" is not {what}', hint)
    return check


_HEX_ID = r"(?:[0-9a-f]{8}|[0-9a-f]{17})"
account = _identifier(r"\d{12}", "an AWS account id", "an account id is exactly 12 digits")
org = _identifier(r"o-[a-z0-9]{10,32}", "an organization id", 'an organization id looks like "o-a1b2c3d4e5"')
vpc = _identifier(f"vpc-{_HEX_ID}", "a VPC id", 'a VPC id looks like "vpc-0a1b2c3d4e5f67890" (8 or 17 hex digits)')
vpce = _identifier(f"vpce-{_HEX_ID}", "a VPC endpoint id",
                   'an endpoint id looks like "vpce-01a2b3c4d5e6f7a80" (8 or 17 hex digits)')
subnet = _identifier(f"subnet-{_HEX_ID}", "a subnet id", 'a subnet id looks like "subnet-0a1b2c3d4e5f67890"')
security_group = _identifier(f"sg-{_HEX_ID}", "a security group id",
                             'a security group id looks like "sg-0a1b2c3d4e5f67890"')
api_id = _identifier(r"[a-z0-9]{10}", "an API Gateway API id",
                     'an API id is 10 lower-case letters and digits, e.g. "a1b2c3d4e5"')
stage = _identifier(r"[A-Za-z0-9_-]{1,128}", "an API Gateway stage name", "letters, digits, `-` and `_`")

def partition(value: str) -> Problem:
    if value not in PARTITIONS:
        return f'unknown partition "{value}"', "partitions: " + ", ".join(PARTITIONS)
    return None


def region(value: str, part: str) -> Problem:
    pattern = PARTITIONS.get(part)
    if pattern and re.fullmatch(pattern, value):
        return None
    for other, pat in PARTITIONS.items():
        if re.fullmatch(pat, value):
            return f'region "{value}" belongs to partition "{other}", not "{part}"', "use a region of the deployment's partition"
    return f'"{value}" is not an AWS region name', 'a region looks like "eu-central-1"'


def cidr(value: str, example: str = "198.51.100.0/24"):
    """(the parsed range, None) or (None, the problem): not a range, or host bits set."""
    try:
        return ipaddress.ip_network(value, strict=True), None
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None, (f'"{value}" is not a CIDR range ({exc})', f'write a range such as "{example}"')
        return None, (f'"{value}" has host bits set', f'did you mean "{loose}"?')


def public_cidr(value: str) -> Problem:
    """A public range usable with aws:SourceIp (private ranges never appear there)."""
    net, problem = cidr(value)
    if problem:
        return problem
    if net.prefixlen == 0:
        return f'"{value}" is the whole Internet', "name the public ranges your offices or CI egress from"
    if net.prefixlen < (8 if net.version == 4 else 16):
        return f'"{value}" is far too broad for a network perimeter', "name the public ranges your offices or CI egress from"
    clash = next((n for n in _NON_PUBLIC if n.version == net.version and net.overlaps(n)), None)
    if clash is not None:
        return (f'"{value}" overlaps the non-public range {clash}',
                "aws:SourceIp only ever holds public addresses; reach private networks through VPC endpoints")
    return None


# Ranges that never appear as aws:SourceIp (RFC 6890 special-purpose, not globally routable).
_NON_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"))


# The private ranges a network's clients may come from: RFC 1918, RFC 6598 (shared address
# space) and IPv6 unique local addresses (RFC 4193).
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                   "100.64.0.0/10", "fc00::/7"))


def private(net) -> bool:
    """Whether a parsed range lies wholly inside one private range."""
    return any(net.version == p.version and net.subnet_of(p) for p in PRIVATE)


def role_arn(value: str) -> tuple[str, str] | Problem:
    """(partition, account) of a role ARN, or a problem."""
    m = _ROLE_ARN.fullmatch(value)
    if not m:
        return None
    return m.group(1), m.group(2)


def role_arn_problem(value: str) -> tuple[str, str]:
    if ":user/" in value:
        return f'"{value}" is a user ARN', "slpc grants to roles; declare the role the workload assumes"
    return (f'"{value}" is not an IAM role ARN',
            'a role ARN looks like "arn:aws:iam::111122223333:role/NAME"')


def key_arn(value: str) -> tuple[str, str, str, str] | None:
    """(partition, region, account, key id) of a KMS key ARN, or None."""
    m = _KEY_ARN.fullmatch(value)
    return (m.group(1), m.group(2), m.group(3), m.group(4)) if m else None


def bucket_name(value: str) -> Problem:
    if (not _BUCKET.fullmatch(value) or ".." in value or ".-" in value or "-." in value
            or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value)
            or value.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
            or value.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))):
        return (f'"{value}" is not a valid S3 bucket name',
                "3-63 characters: lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit")
    return None


def repository_name(value: str) -> Problem:
    if not (2 <= len(value) <= 256 and _REPOSITORY.fullmatch(value)):
        return (f'"{value}" is not a valid ECR repository name',
                "lower-case letters, digits and . _ - separators, optionally with / namespaces")
    return None


def sagemaker_endpoint(value: str) -> Problem:
    if not _SAGEMAKER.fullmatch(value):
        return (f'"{value}" is not a valid SageMaker endpoint name',
                "up to 63 letters, digits and hyphens, starting with a letter or digit")
    return None


def instant(value: str) -> tuple[str | None, Problem]:
    """Normalise an ISO 8601 instant to UTC `YYYY-MM-DDTHH:MM:SSZ`."""
    if not _INSTANT.fullmatch(value):
        return None, (f'"{value}" is not an ISO 8601 instant', 'write e.g. "2027-06-30T00:00:00Z"')
    try:
        whole = re.sub(r"\.\d+", "", value).replace("Z", "+00:00")  # sub-second precision is not kept
        moment = datetime.fromisoformat(whole)
    except ValueError as exc:
        return None, (f'"{value}" is not a valid date: {exc}', 'write e.g. "2027-06-30T00:00:00Z"')
    utc = moment.astimezone(timezone.utc).replace(microsecond=0)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ"), None


def prefix(value: str) -> Problem:
    if "*" in value or "?" in value:
        return "a prefix is literal and cannot hold `*` or `?`", "write the fixed start of the keys, e.g. \"released/\""
    if "${" in value:
        return "a prefix cannot contain `${`", "IAM would read it as a policy variable"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "a prefix cannot contain control characters", "use printable characters"
    if len(value.encode()) > 1024:
        return "a prefix longer than an S3 key (1,024 bytes)", "shorten the prefix"
    return None
