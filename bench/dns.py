"""Benchmark DNS posture checks and the re-verification sweep against a local Knot DNS server.

    .venv/bin/python bench/dns.py [--domains 1000] [--concurrency 20,100] [--processes 1,2]
        [--repeat 3] [--certificates per-domain|shared] [--no-sweeps] [--sweep-processes N]
        [--profile FILE] [--json FILE]

Starts Knot (signing one zone holding every benchmark domain, with a DS trust anchor taken from
its keys) and an HTTPS MTA-STS policy server (a separate asyncio process, keep-alive, test CA)
on 127.0.0.1. By default every policy host has its own certificate and key, chosen by SNI, as
real MTA-STS hosts do; `--certificates shared` serves one certificate naming all N hosts (the
first version of this benchmark). Each domain publishes MX, SPF, DMARC, MTA-STS, TLS-RPT and a
signed TLSA, and every check of every domain does all of it: ~8 DNS queries, one HTTPS policy
fetch (its own TLS connection with certificate validation: a connection is never shared between
two policy hosts), and DNSSEC validation of the MX and TLSA RRsets. The DNSSEC key cache is
emptied before each run, so each run validates the zone's DNSKEY set and DS once, as a sweep of
cold domains would; no posture result is ever cached.

`--processes 1,2`: each concurrency is run in one process (the checker in this process, as
`run_due` does by default) and with a `CheckPool` of N worker processes (spawned, warmed up
before the clock starts: their start-up time is reported apart) sharing the same total
concurrency. For each run it reports the wall time, the checks per second, the load average
(and /proc/loadavg), and the CPU time per check of the checking process(es), the policy server
and Knot, so that the figures can be read on a machine shared with other work. Then (unless
--no-sweeps) the re-verification sweeps, with `--sweep-processes`: `run_due` over N pending
claims (verify + posture, recorded), and eight days on over N verified domains (challenge TXT
lookups plus one audited SQLite write each).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# This file is named dns.py: the script directory must not shadow dnspython's `dns` package.
# (A spawned CheckPool worker re-runs this module's top level with the parent's sys.path.)
if str(Path(__file__).resolve().parent) in sys.path:
    sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, table, write_json
from directory.authz import Principal
from directory.service import Directory
from directory.settings import load_settings
from directory.verification.pool import CheckPool
from directory.verification.posture import PostureResult
from directory.verification.service import DnsVerification
from tests.support.knot import KnotServer
from tests.support.servers import free_port
from tests.support.testca import TestCA

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Principal("bench:admin", frozenset({"directory-admin"}))
TLSA = "3 1 1 " + "cd" * 32
POLICY = "version: STSv1\nmode: enforce\nmx: mx.{d}\nmax_age: 604800\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def zone_body(names: list[str], challenges: dict[str, str]) -> str:
    lines = []
    for label in names:
        d = f"{label}.bench.test."
        lines += [
            f"{label} MX 10 mx.{label}",
            f"mx.{label} A 127.0.0.1",
            f'{label} TXT "v=spf1 mx -all"',
            f'_dmarc.{label} TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{d[:-1]}"',
            f'_mta-sts.{label} TXT "v=STSv1; id=1"',
            f"mta-sts.{label} A 127.0.0.1",
            f'_smtp._tls.{label} TXT "v=TLSRPTv1; rua=mailto:tls@{d[:-1]}"',
            f"_25._tcp.mx.{label} TLSA {TLSA}",
        ]
        if label in challenges:
            lines.append(f'_clearance-challenge.{label} TXT "{challenges[label]}"')
    return "\n".join(lines) + "\n"


# --- the MTA-STS policy server (a separate process: python bench/dns.py --serve DIR PORT) -----
def serve_policies(directory: Path, port: int) -> None:
    """HTTPS on 127.0.0.1:port for the hosts in DIR/policies.json: per-host certificates
    (DIR/certs/<host>.pem and .key, picked by SNI) or one shared DIR/certs/shared.pem."""
    policies: dict[str, bytes] = {
        host: body.encode()
        for host, body in json.loads((directory / "policies.json").read_text()).items()
    }
    certs = directory / "certs"
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if (certs / "shared.pem").exists():
        default.load_cert_chain(certs / "shared.pem", certs / "shared.key")
    else:
        contexts: dict[str, ssl.SSLContext] = {}
        for host in policies:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certs / f"{host}.pem", certs / f"{host}.key")
            contexts[host] = context

        def by_name(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            chosen = contexts.get(name or "")
            if chosen is not None:
                sock.context = chosen
            return None  # an unknown name gets the default context: no certificate, no TLS

        default.sni_callback = by_name

    async def one_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # HTTP/1.1 keep-alive: requests until the client closes
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _version = head[0].split(" ", 2)
                fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
                headers = {k.strip().lower(): v.strip() for k, v in fields.items()}
                host = headers.get("host", "").split(":")[0].lower()
                body = policies.get(host)
                ok = method == "GET" and path == "/.well-known/mta-sts.txt" and body is not None
                status = "200 OK" if ok else "404 Not Found"
                body = body if ok and body is not None else b""
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(
            one_connection, "127.0.0.1", port, ssl=default, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def start_policy_server(
    ca: TestCA, names: list[str], tmp: Path, port: int, certificates: str
) -> subprocess.Popen[bytes]:
    served = tmp / "policies"
    (served / "certs").mkdir(parents=True)
    hosts = [f"mta-sts.{n}.bench.test" for n in names]
    (served / "policies.json").write_text(
        json.dumps({f"mta-sts.{n}.bench.test": POLICY.format(d=f"{n}.bench.test") for n in names})
    )
    if certificates == "shared":
        ca.issue(hosts, served / "certs", stem="shared")
    else:
        for host in hosts:
            ca.issue([host], served / "certs", stem=host)
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(served), str(port)],
        cwd=str(ROOT),
    )
    deadline = time.monotonic() + 60
    while True:  # ready when it accepts a connection
        if process.poll() is not None:
            raise RuntimeError("the policy server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.terminate()
                process.wait()
                raise RuntimeError("the policy server did not start") from None
            time.sleep(0.1)


# --- measuring -------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def full(result: PostureResult) -> bool:
    """Did the check come back with the whole posture (DANE, MTA-STS enforce, DMARC reject)?"""
    p = result.posture
    return (
        p is not None
        and p.dane
        and p.mta_sts == "enforce"
        and p.dmarc is not None
        and p.dmarc.label == "reject"
    )


async def _posture_run(
    service: DnsVerification, names: list[str], concurrency: int, now: datetime
) -> tuple[float, int]:
    """Check every domain once with at most `concurrency` checks in flight; (seconds, failed)
    where failed counts the checks that did not come back with the full posture."""
    gate = asyncio.Semaphore(concurrency)

    async def one(label: str) -> bool:
        async with gate:
            return full(await service.checker.check(f"{label}.bench.test", now))

    started = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in names))
    return time.perf_counter() - started, sum(1 for ok in results if not ok)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def pooled_row(
    service: DnsVerification,
    names: list[str],
    level: int,
    processes: int,
    pids: dict[str, int],
    now: datetime,
) -> dict[str, Any]:
    """One run over a fresh CheckPool (cold DNSSEC key caches), timed once it is warm."""
    started = time.perf_counter()
    with CheckPool(service.settings, processes, level) as pool:
        workers = pool.warm()
        startup = time.perf_counter() - started
        load, load_text = os.getloadavg()[0], loadavg()
        before = {who: cpu_seconds(pid) for who, pid in pids.items()}
        before_workers = sum(cpu_seconds(pid) for pid in workers)
        own = time.process_time()
        started = time.perf_counter()
        results = pool.check([f"{n}.bench.test" for n in names], now)
        seconds = time.perf_counter() - started
        cpu = {"checker": time.process_time() - own}
        cpu["checker"] += sum(cpu_seconds(pid) for pid in workers) - before_workers
        cpu.update({who: cpu_seconds(pid) - before[who] for who, pid in pids.items()})
    return {
        "what": "posture check",
        "domains": len(names),
        "processes": processes,
        "concurrency": level,
        "seconds": round(seconds, 2),
        "per_second": round(len(names) / seconds, 1),
        "failed": sum(1 for r in results if not full(r)),
        "load_1min": round(load, 2),
        "loadavg": load_text,
        "startup_seconds": round(startup, 2),
        **{f"cpu_ms_{who}": round(1000 * s / len(names), 2) for who, s in cpu.items()},
    }


def posture_rows(
    service: DnsVerification,
    names: list[str],
    levels: list[int],
    processes: list[int],
    repeat: int,
    pids: dict[str, int],
    now: datetime,
    profile: str | None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for level, count, _ in ((lv, n, r) for lv in levels for r in range(repeat) for n in processes):
        if count > 1:
            rows.append(pooled_row(service, names, level, count, pids, now))
            print(rows[-1], flush=True)
            continue
        service.validator._keys.clear()  # cold DNSSEC key cache for each run
        load, load_text = os.getloadavg()[0], loadavg()
        before = {who: cpu_seconds(pid) for who, pid in pids.items()}
        own = time.process_time()
        profiler = cProfile.Profile() if profile and not rows else None
        if profiler is not None:
            profiler.enable()
        seconds, bad = asyncio.run(_posture_run(service, names, level, now))
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        cpu = {"checker": time.process_time() - own}
        cpu.update({who: cpu_seconds(pid) - before[who] for who, pid in pids.items()})
        rows.append(
            {
                "what": "posture check" + (" (profiled)" if profiler else ""),
                "domains": len(names),
                "processes": 1,
                "concurrency": level,
                "seconds": round(seconds, 2),
                "per_second": round(len(names) / seconds, 1),
                "failed": bad,
                "load_1min": round(load, 2),
                "loadavg": load_text,
                **{f"cpu_ms_{who}": round(1000 * s / len(names), 2) for who, s in cpu.items()},
            }
        )
        print(rows[-1], flush=True)
    return rows


def sweep_rows(
    service: DnsVerification, clock: Clock, count: int, processes: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # Sweep 1: every pending claim is verified (and its posture checked and recorded).
    service.validator._keys.clear()
    load, load_text = os.getloadavg()[0], loadavg()
    started = time.perf_counter()
    report = service.run_due(ADMIN, concurrency=50, processes=processes)
    first = time.perf_counter() - started
    verified = sum(1 for r in report if r["job"] == "verify" and r["status"] == "verified")
    checked = sum(1 for r in report if r["job"] == "posture" and r["status"] == "checked")
    rows.append(
        {
            "what": f"first sweep: verify + posture, recorded ({len(report)} jobs)",
            "domains": count,
            "processes": processes,
            "concurrency": 50,
            "seconds": round(first, 2),
            "per_second": round(count / first, 1),
            "failed": 2 * count - verified - checked,
            "load_1min": round(load, 2),
            "loadavg": load_text,
        }
    )
    # Sweep 2, eight days on: re-verification only (posture is not yet due).
    clock.now += timedelta(days=8)
    load, load_text = os.getloadavg()[0], loadavg()
    started = time.perf_counter()
    report = service.run_due(ADMIN, concurrency=50, processes=processes)
    second = time.perf_counter() - started
    rows.append(
        {
            "what": "re-verification sweep (recorded)",
            "domains": len(report),
            "processes": processes,
            "concurrency": 50,
            "seconds": round(second, 2),
            "per_second": round(len(report) / second, 1),
            "failed": sum(1 for r in report if r["status"] != "verified"),
            "load_1min": round(load, 2),
            "loadavg": load_text,
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--concurrency", default="20,100")
    parser.add_argument("--processes", default="1", help="checking processes, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=3, help="posture runs per concurrency")
    parser.add_argument("--sweep-processes", type=int, default=1, help="run_due's processes")
    parser.add_argument("--certificates", choices=["per-domain", "shared"], default="per-domain")
    parser.add_argument("--no-sweeps", action="store_true", help="posture checks only")
    parser.add_argument("--profile", help="cProfile the first posture run into this file")
    parser.add_argument("--json", dest="json_file")
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_policies(Path(args.serve[0]), int(args.serve[1]))
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    processes = [int(n) for n in args.processes.split(",")]
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    names = [f"d{i:04d}" for i in range(args.domains)]
    rows: list[dict[str, Any]] = []
    notes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="clearance-bench-dns-") as tmp_name:
        tmp = Path(tmp_name)
        clock = Clock()
        knot_port, https_port = free_port(), free_port()
        ca = TestCA()
        ca_file = ca.write_ca(tmp / "ca.pem")
        anchors = tmp / "anchors.zone"
        anchors.write_text(". IN DS 1 13 2 " + "00" * 32 + "\n")  # replaced once Knot signs
        settings = load_settings(
            home=tmp / "home",
            cache_refresh_seconds=0.0,
            dns_nameservers=f"127.0.0.1:{knot_port}",
            dns_timeout=2.0,
            dns_retries=1,
            dns_trust_anchors=str(anchors),
            mta_sts_ca_file=str(ca_file),
            mta_sts_port=https_port,
            posture_interval_hours=24 * 30,
        )
        directory = Directory(settings, clock)
        directory.initialise()
        challenges: dict[str, str] = {}
        if not args.no_sweeps:  # the directory first: its claims' challenges go into the zone
            reg = directory.registration
            org = reg.create_organisation(ADMIN, "Bench Council", "local-government", {})
            claimer = DnsVerification(directory)
            started = time.perf_counter()
            for label in names:
                challenges[label] = claimer.claim(ADMIN, org.id, f"{label}.bench.test").value
            notes["claims_seconds"] = round(time.perf_counter() - started, 1)
        knot = KnotServer(knotd, tmp / "knot", knot_port)
        knot.add_zone("bench.test", zone_body(names, challenges), signed=True)
        started = time.perf_counter()
        server = start_policy_server(ca, names, tmp, https_port, args.certificates)
        notes["certificates"] = args.certificates
        notes["certificates_seconds"] = round(time.perf_counter() - started, 1)
        try:
            started = time.perf_counter()
            knot.start(timeout=120)
            notes["knot_sign_seconds"] = round(time.perf_counter() - started, 1)
            anchors.write_text("\n".join(knot.ds_records("bench.test")) + "\n")
            service = DnsVerification(directory)  # with the real anchor
            assert knot.process is not None
            pids = {"policy_server": server.pid, "knot": knot.process.pid}
            rows += posture_rows(
                service, names, levels, processes, args.repeat, pids, clock.now, args.profile
            )
            if not args.no_sweeps:
                rows += sweep_rows(service, clock, len(names), args.sweep_processes)
        finally:
            server.terminate()
            server.wait(timeout=10)
            knot.stop()
            directory.close()
    about = machine()
    print(
        f"{about['cpus']} CPUs ({about['cpu_model']}), load average now "
        f"{' '.join(f'{x:.2f}' for x in about['load_average'])}; "
        + "; ".join(f"{k} {v}" for k, v in notes.items())
    )
    columns = [
        "what",
        "domains",
        "processes",
        "concurrency",
        "seconds",
        "per_second",
        "failed",
        "load_1min",
        "cpu_ms_checker",
        "cpu_ms_policy_server",
        "cpu_ms_knot",
        "startup_seconds",
        "loadavg",
    ]
    print(table(columns, [[r.get(c) for c in columns] for r in rows]))
    if args.json_file:
        write_json(args.json_file, {"machine": about, "notes": notes, "rows": rows})


if __name__ == "__main__":
    main()
