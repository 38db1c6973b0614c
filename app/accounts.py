"""The other accounts a live command reads: `--account-profile ACCOUNT=PROFILE` values, and a
Fetcher per account whose credentials are checked to belong to it (shared by
`slpc validate` and `slpc import`)."""

from __future__ import annotations

from slpc.verify.live.fetch import Fetcher, LiveConfigError


def parse_account_profiles(values) -> dict[str, str]:
    """`ACCOUNT=PROFILE` values as {account: profile}; ValueError with a one-line reason."""
    out: dict[str, str] = {}
    for v in values or ():
        account, sep, profile = str(v).partition("=")
        account, profile = account.strip(), profile.strip()
        if not sep or not profile:
            raise ValueError(f"--account-profile {v!r}: expected ACCOUNT=PROFILE (e.g. 210987654321=audit)")
        if not (len(account) == 12 and account.isdigit() and account.isascii()):
            raise ValueError(f"--account-profile {v!r}: the account must be 12 digits, got {account!r}")
        if out.get(account, profile) != profile:
            raise ValueError(f"--account-profile: account {account} is given two profiles "
                             f"({out[account]}, {profile})")
        out[account] = profile
    return out


def account_fetchers(profiles: dict[str, str], sessions: dict, region, endpoint_url) -> dict:
    """{account: Fetcher} for --account-profile (and injected sessions); each
    session must belong to its account, checked with sts:GetCallerIdentity."""
    out = {}
    for account in sorted(set(profiles) | set(sessions)):
        profile = profiles.get(account)
        where = f"--account-profile {account}={profile}" if profile else f"the session for account {account}"
        try:
            f = Fetcher(sessions.get(account), region=region, endpoint_url=endpoint_url, profile=profile)
            actual = f.caller_account()
        except LiveConfigError as exc:
            raise LiveConfigError(f"{where}: {exc}") from None
        if actual != account:
            raise LiveConfigError(f"{where}: the credentials are for account {actual}, not {account}")
        out[account] = f
    return out
