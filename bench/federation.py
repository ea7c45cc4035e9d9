"""Federation: sign, import and look up a synthetic trust list (embedded SQLite store).

    .venv/bin/python bench/federation.py [--domains 1000] [--mailboxes 100] [--lookups 5000]
        [--quick] [--json FILE]

Measures: canonical JSON + Ed25519 signature of the list, import (size check, signature
verification, parsing and normalising every entry, one write transaction), and lookups of
federated mailboxes and domain-wide addresses in process with the answer cache off (every
lookup reads the federated mailbox from the store).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from bench.common import machine, percentile, table, write_json  # noqa: E402
from directory.authz import Principal  # noqa: E402
from directory.federation.service import Federation  # noqa: E402
from directory.federation.trustlist import FORMAT, canonical, envelope  # noqa: E402
from directory.service import Directory  # noqa: E402
from directory.settings import load_settings  # noqa: E402
from pki.signing import generate_signing_key, public_key_pem  # noqa: E402

OPERATOR = Principal("cli:bench", frozenset({"directory-admin"}))


def payload(domains: int, mailboxes: int, now: datetime) -> dict[str, Any]:
    stamp = now.isoformat().replace("+00:00", "Z")
    entries = []
    for d in range(domains):
        name = f"org{d:05d}.gov.uk"
        entries.append(
            {
                "domain": name,
                "organisation": {"id": f"org-{d}", "name": f"Council {d}", "sector": "health"},
                "trust_level": "accredited",
                "ceiling": None,
                "posture": {
                    "transport": {"mx": True, "tls": True, "mta_sts": "enforce", "dane": False},
                    "dmarc": "reject",
                    "checked_at": stamp,
                },
                "domain_wide": d % 2 == 0,
                "exclusions": ["noreply"] if d % 2 == 0 else [],
                "mailboxes": [
                    {"address": f"user{m:04d}@{name}", "role": "person", "mailbox_verified": True}
                    for m in range(mailboxes)
                ],
            }
        )
    return {
        "format": FORMAT,
        "directory": "bench-peer",
        "issued_at": stamp,
        "valid_until": (now + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "policy": {"name": "uk-gsc", "digest": "sha256:" + "0" * 64},
        "entries": entries,
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    key = generate_signing_key()
    body = payload(args.domains, args.mailboxes, now)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    signed = envelope(body, key)
    sign_s = time.perf_counter() - started
    raw = json.dumps(signed).encode()
    rows.append({"step": "sign (canonical JSON + Ed25519)", "seconds": sign_s,
                 "note": f"{len(canonical(body)) / 2**20:.1f} MiB payload"})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="clearance-bench-fed-") as tmp:
        settings = load_settings(home=Path(tmp), database_url="", cache_refresh_seconds=0.0)
        directory = Directory(settings)
        try:
            directory.initialise()
            federation = Federation(directory)
            federation.add_peer(
                OPERATOR, "peer", public_key_pem(key), max_trust="accredited", permitted=["uk"]
            )
            started = time.perf_counter()
            report = federation.import_list(OPERATOR, "peer", raw)
            import_s = time.perf_counter() - started
            note = f"{report.domains} domains, {report.mailboxes} mailboxes"
            rows.append(
                {"step": "import (verify, parse, write)", "seconds": import_s, "note": note}
            )
            for label, address in (
                ("lookup federated mailbox", "user{m:04d}@org{d:05d}.gov.uk"),
                ("lookup federated domain-wide", "someone{m}@org{d:05d}.gov.uk"),
            ):
                samples = []
                for i in range(args.lookups):
                    d = (i * 7919) % args.domains
                    if "domain-wide" in label:
                        d -= d % 2  # even domains have a domain-wide entry
                    text = address.format(m=i % max(args.mailboxes, 1), d=d)
                    t0 = time.perf_counter()
                    answer = directory.lookup.lookup(text, "OFFICIAL")
                    samples.append(time.perf_counter() - t0)
                    assert answer["matched"] == "federated", answer
                rows.append({
                    "step": label,
                    "seconds": sum(samples),
                    "p50_us": percentile(samples, 50) * 1e6,
                    "p99_us": percentile(samples, 99) * 1e6,
                    "note": f"{args.lookups} lookups, answer cache off",
                })  # fmt: skip
        finally:
            directory.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=100, help="per domain")
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="100 domains x 10 mailboxes")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.domains, args.mailboxes, args.lookups = 100, 10, 1000
    host = machine()
    rows = run(args)
    print(
        f"machine: {host['cpus']} CPUs ({host['cpu_model']}), {host['memory_mib']:,} MiB; "
        f"load average at start {host['load_average'][0]:.2f}"
    )
    print(
        table(
            ["step", "seconds", "p50 us", "p99 us", "note"],
            [
                [r["step"], r["seconds"], r.get("p50_us", ""), r.get("p99_us", ""), r["note"]]
                for r in rows
            ],
        )
    )
    if args.json:
        write_json(args.json, {"machine": host, "settings": vars(args), "results": rows})


if __name__ == "__main__":
    main()
