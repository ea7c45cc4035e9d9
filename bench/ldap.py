"""LDAP publishing benchmark: full publish rate, incremental sync time, and the lookups/s slapd
then serves for the published entries beside Clearance's own HTTP lookup on the same data.

    .venv/bin/python bench/ldap.py [--entries 100000] [--changes 100] [--connections 8]
                                   [--seconds 10] [--workers 2] [--json FILE]

Starts its own slapd (tests/support/slapd.py, mdb, olcDbNoSync) and SQLite directory in a
temporary directory. slapd is read by `ldapsearch` (the OpenLDAP C client, as Postfix's
ldap_table is) in --connections parallel processes, each one connection searching with the
filter of config/ldap/postfix-ldap-table.cf for one address after another; Clearance's lookup
by `clearance serve --workers N` on the same database, driven by wrk (bench/http_load.py) with
the same number of connections. Every figure carries the load average around it and the CPU
the processes involved used, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_snapshot, cpu_used, machine, table, write_json
from bench.http_load import api_server, run_load, wait_ready
from directory.authz import Principal
from directory.publish.connection import LDAPTarget
from directory.publish.publish import LDAPPublisher
from directory.registration import NewMailbox
from directory.service import Directory
from directory.settings import load_settings
from tests.support.servers import free_port
from tests.support.slapd import Slapd, binaries, slapd_server

ADMIN = Principal("bench:admin", frozenset({"directory-admin"}))
BASE = "dc=clearance,dc=bench"
ORGS = 10
POSTFIX_FILTER = (
    "(|(clearanceAddress={address})(&(associatedDomain={domain})"
    "(!(clearanceExcludedLocalPart={local}))(!(clearanceOverriddenLocalPart={local}))))"
)


def build(directory: Directory, entries: int) -> list[str]:
    reg = directory.registration
    now = directory.clock()
    addresses: list[str] = []
    per_org = entries // ORGS
    for n in range(ORGS):
        org = reg.create_organisation(
            ADMIN, f"Bench Council {n}", "local-government", {"gss": f"E0{n}"}
        )
        domain = reg.claim_domain(ADMIN, org.id, f"council{n}.gov.uk")
        reg.set_status(ADMIN, org.id, "active", "bench")
        reg.vet_organisation(ADMIN, org.id, "bench")
        reg.record_domain_verification(ADMIN, domain.id, "bench")
        reg.record_posture(
            ADMIN, domain.id, evidence="bench", tls=True, mta_sts="enforce", dmarc="reject"
        )
        reg.add_accreditation(
            ADMIN,
            org.id,
            "psn-compliance",
            "bench",
            now - timedelta(days=1),
            now + timedelta(days=300),
        )
        if n == 0:
            reg.add_recipient(ADMIN, org.id, domain=domain.name)
        names = [f"person.{i:06d}@council{n}.gov.uk" for i in range(per_org)]
        for i in range(0, len(names), 5000):
            reg.add_mailboxes(
                ADMIN, org.id, [NewMailbox(a, f"Person {a[:13]}") for a in names[i : i + 5000]]
            )
        addresses.extend(names)
    return addresses


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@contextmanager
def measured(results: dict[str, Any], name: str, pids: list[int]) -> Iterator[None]:
    """Record the load average before and after, the CPU seconds this process (with the clients
    it ran) used, and those `pids` (with their children) used."""
    results[f"{name}_load_before"] = load()
    mine = _cpu_self_and_children()
    others = cpu_snapshot(pids)
    yield
    results[f"{name}_client_cpu_s"] = _cpu_self_and_children() - mine
    results[f"{name}_server_cpu_s"] = cpu_used(others, cpu_snapshot(pids))
    results[f"{name}_load_after"] = load()


def _cpu_self_and_children() -> float:
    """CPU seconds of this process and its finished children (ldapsearch, wrk)."""
    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def slapd_lookups(
    server: Slapd, addresses: list[str], connections: int, workdir: Path
) -> tuple[float, int, int]:
    """Searches/s from `connections` ldapsearch processes (one connection each), every search
    the Postfix ldap_table filter for one address; also how many found nothing or failed."""
    per = [addresses[i::connections] for i in range(connections)]
    files = []
    for n, chunk in enumerate(per):
        path = workdir / f"filters-{n}.txt"
        lines = []
        for address in chunk:
            local, _, domain = address.rpartition("@")
            lines.append(POSTFIX_FILTER.format(address=address, domain=domain, local=local))
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    command = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", server.url, "-b", BASE]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            # ldapsearch -f takes the filter pattern only when it contains "=" (a bare "%s"
            # is read as an attribute and every entry returned); objectClass=* changes nothing.
            [*command, "-f", str(path), "(&(objectClass=*)%s)", "clearanceMaxClassification"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for path in files
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    elapsed = time.perf_counter() - started
    found = sum(out.count(b"\nclearanceMaxClassification: ") for out, _ in outputs)
    failed = sum(p.returncode != 0 for p in processes)
    return len(addresses) / elapsed, len(addresses) - found, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    found = binaries()
    if found is None:
        raise SystemExit("slapd and slapadd are needed (apt-get install slapd ldap-utils)")
    results: dict[str, Any] = {"machine": machine(), "entries": args.entries}
    with tempfile.TemporaryDirectory(prefix="clearance-bench-ldap-") as tmp:
        work = Path(tmp)
        (work / "slapd").mkdir()
        home = work / "home"
        settings = load_settings(home=home, database_url="", cache_refresh_seconds=0.0)
        directory = Directory(settings, lambda: datetime.now(UTC))
        directory.initialise()
        started = time.perf_counter()
        addresses = build(directory, args.entries)
        _key, secret = directory.registration.create_api_key(ADMIN, "bench", ["lookup"])
        results["setup_seconds"] = time.perf_counter() - started
        with slapd_server(work / "slapd", [BASE], *found) as server:
            slapd_pid = int((work / "slapd" / "slapd.pid").read_text().split()[0])
            target = LDAPTarget(server.url, BASE, f"cn=admin,{BASE}", server.password)
            publisher = LDAPPublisher(directory, target)
            with measured(results, "publish", [slapd_pid]):
                report = publisher.publish()
            results["published_entries"] = report.added
            results["full_publish_seconds"] = report.seconds
            results["full_publish_entries_per_s"] = report.added / report.seconds
            sync(directory, publisher, addresses, args.changes, slapd_pid, results)
            sample = random.Random(5).sample(addresses, min(len(addresses), 200_000))
            slapd_rate(server, sample, args, slapd_pid, work, results)
            http_rate(home, secret, sample, args, results)
            started = time.perf_counter()
            for address in sample[:5000]:
                directory.lookup.lookup(address)
            results["inprocess_lookups_per_s"] = 5000 / (time.perf_counter() - started)
        directory.close()
    print(report_table(results, args))
    if args.json:
        write_json(args.json, results)


def sync(
    directory: Directory,
    publisher: LDAPPublisher,
    addresses: list[str],
    changes: int,
    slapd_pid: int,
    results: dict[str, Any],
) -> None:
    """Half new mailboxes, half removals, then one sync; then a sync with nothing to do."""
    org = directory.store.organisations()[0]
    half = changes // 2
    for i in range(half):
        directory.registration.add_recipient(ADMIN, org.id, address=f"new.{i}@council0.gov.uk")
    for address in random.Random(3).sample(addresses, changes - half):
        entry = directory.store.mailbox_entry(address)
        assert entry is not None
        directory.registration.remove_recipient(ADMIN, entry.id)
        addresses.remove(address)
    with measured(results, "sync", [slapd_pid]):
        report = publisher.sync()
    results["sync_changes"] = changes
    results["sync_seconds"] = report.seconds
    results["sync_operations"] = report.operations
    results["sync_no_change_seconds"] = publisher.sync().seconds


def slapd_rate(
    server: Slapd,
    sample: list[str],
    args: argparse.Namespace,
    slapd_pid: int,
    work: Path,
    results: dict[str, Any],
) -> None:
    slapd_lookups(server, sample[:2000], args.connections, work)  # warm up
    with measured(results, "slapd_lookup", [slapd_pid]):
        rate, missing, failed = slapd_lookups(server, sample, args.connections, work)
    results["slapd_lookups_per_s"] = rate
    results["slapd_lookups_missing"] = missing  # searches that found nothing: should be 0
    results["slapd_lookup_client_failures"] = failed


def http_rate(
    home: Path, secret: str, sample: list[str], args: argparse.Namespace, results: dict[str, Any]
) -> None:
    port = free_port()
    env = {"CLEARANCE_HOME": str(home), "CLEARANCE_DATABASE_URL": ""}
    headers = {"Authorization": f"Bearer {secret}"}
    paths = [f"/v1/lookup?address={quote(a, safe='@')}" for a in sample[:20_000]]
    base = f"http://127.0.0.1:{port}"
    with api_server(env, port, args.workers) as pid:
        wait_ready(base + paths[0], headers)
        run_load(base, paths, headers, connections=args.connections, seconds=2)  # warm up
        with measured(results, "http_lookup", [pid]):
            result = run_load(
                base, paths, headers, connections=args.connections, seconds=args.seconds
            )
    results["http_lookups_per_s"] = result.per_second
    results["http_p50_ms"] = result.p50_ms
    results["http_p99_ms"] = result.p99_ms
    results["http_errors"] = result.errors
    results["http_client_cpu_s"] = result.client_cpu


def report_table(results: dict[str, Any], args: argparse.Namespace) -> str:
    r = results

    def per(name: str, n: int) -> str:
        client, server = r[f"{name}_client_cpu_s"], r[f"{name}_server_cpu_s"]
        return f"{1e3 * client / n:.3f} / {1e3 * server / n:.3f}"

    published = r["published_entries"]
    rows = [
        (
            "full publish",
            f"{published:,} entries, {r['full_publish_seconds']:.1f} s",
            f"{r['full_publish_entries_per_s']:,.0f} entries/s (target >= 2,000)",
            per("publish", published) + " ms/entry",
            f"{r['publish_load_before']} -> {r['publish_load_after']}",
        ),
        (
            f"sync of {r['sync_changes']} changes",
            f"{r['sync_operations']} LDAP writes",
            f"{r['sync_seconds']:.2f} s (target < 2 s)",
            f"{r['sync_client_cpu_s']:.2f} / {r['sync_server_cpu_s']:.2f} s",
            f"{r['sync_load_before']} -> {r['sync_load_after']}",
        ),
        ("sync, nothing changed", "", f"{r['sync_no_change_seconds']:.3f} s", "", ""),
        (
            f"slapd lookups ({args.connections} ldapsearch)",
            f"{r['slapd_lookups_missing']} not found, {r['slapd_lookup_client_failures']} failed",
            f"{r['slapd_lookups_per_s']:,.0f} /s",
            f"client {r['slapd_lookup_client_cpu_s']:.1f} s, slapd "
            f"{r['slapd_lookup_server_cpu_s']:.1f} s",
            f"{r['slapd_lookup_load_before']} -> {r['slapd_lookup_load_after']}",
        ),
        (
            f"HTTP lookups (serve --workers {args.workers}, wrk -c{args.connections})",
            f"p50 {r['http_p50_ms']:.1f} ms, p99 {r['http_p99_ms']:.1f} ms, "
            f"{r['http_errors']} errors",
            f"{r['http_lookups_per_s']:,.0f} /s",
            f"wrk {r['http_client_cpu_s']:.1f} s, server {r['http_lookup_server_cpu_s']:.1f} s",
            f"{r['http_lookup_load_before']} -> {r['http_lookup_load_after']}",
        ),
        ("in-process lookup (1 thread)", "", f"{r['inprocess_lookups_per_s']:,.0f} /s", "", ""),
    ]
    head = (
        f"LDAP benchmark: {r['entries']:,} entries, {r['machine']['cpus']} CPUs "
        f"({r['machine']['cpu_model']}); store setup {r['setup_seconds']:.0f} s (not timed)\n"
        "CPU columns: client / server (slapd, or the API workers)\n"
    )
    return head + table(["measure", "detail", "result", "CPU", "load average"], rows)


if __name__ == "__main__":
    main()
