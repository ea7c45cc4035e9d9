"""Gateway benchmark: decisions/s and latency over the Postfix policy protocol and the socketmap.

A register of N recipient entries (default 1,000,000) is written with bulk inserts into SQLite
(bench/population.py; `--home DIR` keeps it for the next run), `clearance gateway serve
--workers W` is started on it, and C connections (default 64), one request outstanding on each
as Postfix's smtpd and smtp processes do, are driven from P client processes (uvloop protocols,
every request encoded before the clock starts). Measured, each for `--seconds`:

  policy      RCPT-time policy requests, tag mode (a lookup and a PREPEND per request)
  tlspolicy   socketmap `tlspolicy <domain>` (a function of the ~2,500 domains)
  recipient   socketmap `recipient <address>` (a mailbox lookup per request)

Addresses ("random" mix): 75% mailbox entries drawn uniformly from ALL mailbox entries in the
register, 15% random local parts at domains with a domain-wide entry, 10% unknown; a fresh
address almost every request, so the gateway's answer cache is cold (its hit rate is
reported). `--hot` adds the same two workloads with a repeated-recipient mix (80% of requests
to 5,000 frequent recipients), labelled as such. `--trivial` measures the client's own ceiling
against a server that does nothing but answer a constant reply. `--hostile` measures the policy
workload again on the same gateway: quiet, then while one more connection pipelines policy
requests as fast as the kernel takes them and never reads a reply, then quiet again. It prints
the well-behaved throughput as a ratio of the mean quiet one (target at least 0.8x), p99
(target under 50 ms), the gateway's private resident memory before and at most during the
hostile window, and how many bytes the hostile peer got the kernel to take.

Also reported: CPU seconds per request used by the gateway processes and by the client
processes during the window, and the load average.

Usage: .venv/bin/python bench/gateway.py [--entries 1000000] [--seconds 10] [--workers 2]
       [--clients 2] [--home DIR] [--hot] [--trivial] [--hostile] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    children,
    cpu_snapshot,
    cpu_used,
    machine,
    percentile,
    private_mib,
    table,
    write_json,
)
from bench.population import Population, populate
from directory.settings import load_settings

TARGETS = {"policy": 20_000, "tlspolicy": 40_000, "recipient": None}
P99_TARGET_MS = 5.0
HOSTILE_RATIO = 0.8  # well-behaved throughput under a hostile peer, of the quiet figure
HOSTILE_P99_MS = 50.0
REQUESTS = 400_000  # pre-encoded per workload: more than a run sends, so requests do not repeat
WARM_SECONDS = 2.0


def policy_request(recipient: str) -> bytes:
    return (
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        "client_address=127.0.0.1\nclient_name=localhost\nhelo_name=bench.example\n"
        f"sender=clerk@bench.example\nrecipient={recipient}\nrecipient_count=0\n"
        "queue_id=\nsize=0\n\n"
    ).encode()


def netstring(text: str) -> bytes:
    data = text.encode()
    return b"%d:%s," % (len(data), data)


# --- the client ---------------------------------------------------------------------------------
class Window:
    """What one client process saw: requests sent inside [began, ended) and their latencies."""

    def __init__(self, began: float, ended: float) -> None:
        self.began, self.ended = began, ended
        self.latencies: list[float] = []
        self.replies: dict[bytes, int] = {}
        self.ranges: list[tuple[int, int]] = []  # (first index, count) sent per connection


class Client(asyncio.Protocol):
    """One connection, one request outstanding; a reply is complete at its terminator."""

    def __init__(
        self,
        requests: list[bytes],
        netstrings: bool,
        start: int,
        window: Window,
        closed: asyncio.Future[None],
    ) -> None:
        self.closed = closed
        self.requests = requests
        self.size = len(requests)
        self.netstrings = netstrings
        self.index = self.first = start
        self.window = window
        self.buffer = b""
        self.sent = 0.0
        self.measured = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = self.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        sent = self.sent = time.perf_counter()
        if sent >= self.window.ended:
            self.window.ranges.append((self.first, self.measured))
            self.transport.close()
            return
        if sent >= self.window.began and not self.measured:
            self.first = self.index
        self.transport.write(self.requests[self.index % self.size])
        self.index += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if self.netstrings:
            colon = buffer.find(b":")
            if colon < 0 or len(buffer) < colon + int(buffer[:colon]) + 2:
                self.buffer = buffer
                return
        elif buffer[-2:] != b"\n\n":
            self.buffer = buffer
            return
        self.buffer = b""
        window = self.window
        if self.sent >= window.began:
            window.latencies.append(time.perf_counter() - self.sent)
            kind = buffer[:24]
            window.replies[kind] = window.replies.get(kind, 0) + 1
            self.measured += 1
        self.send()


def _same(client: Client) -> Client:
    return client


async def _drive(
    port: int, requests: list[bytes], netstrings: bool, starts: list[int], window: Window
) -> None:
    loop = asyncio.get_running_loop()
    done: list[asyncio.Future[None]] = []
    for start in starts:
        closed: asyncio.Future[None] = loop.create_future()
        client = Client(requests, netstrings, start, window, closed)
        await loop.create_connection(partial(_same, client), "127.0.0.1", port)
        done.append(closed)
    await asyncio.wait_for(asyncio.gather(*done), timeout=window.ended - time.perf_counter() + 30)


def _client_process(
    port: int,
    requests: list[bytes],
    netstrings: bool,
    starts: list[int],
    began: float,
    ended: float,
    out: Connection,
) -> None:
    window = Window(began, ended)
    run_loop(_drive(port, requests, netstrings, starts, window))
    out.send({"latencies": window.latencies, "replies": window.replies, "ranges": window.ranges})
    out.close()


def load(
    port: int,
    requests: list[bytes],
    netstrings: bool,
    connections: int,
    clients: int,
    seconds: float,
    watch: list[int],
) -> dict[str, Any]:
    """Drive the server from `clients` processes; `watch`: the server pids to account CPU to."""
    context = multiprocessing.get_context("fork")
    stride = len(requests) // connections
    began = time.perf_counter() + WARM_SECONDS + 0.5  # perf_counter is system-wide (monotonic)
    ended = began + seconds
    processes, pipes = [], []
    for c in range(clients):
        starts = [n * stride for n in range(c, connections, clients)]
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_client_process,
            args=(port, requests, netstrings, starts, began, ended, send),
        )
        process.start()
        send.close()
        processes.append(process)
        pipes.append(receive)
    client_pids = [p.pid for p in processes if p.pid is not None]
    time.sleep(max(0.0, began - time.perf_counter()))
    cpu_before = cpu_snapshot(watch), cpu_snapshot(client_pids)
    load_before = os.getloadavg()[0]
    time.sleep(max(0.0, ended - time.perf_counter()))
    cpu_after = cpu_snapshot(watch), cpu_snapshot(client_pids)
    results = [r.recv() for r in pipes]
    for process in processes:
        process.join(30)
    samples = [x for r in results for x in r["latencies"]]
    replies: dict[str, int] = {}
    for r in results:
        for reply, count in r["replies"].items():
            kind = _kind(reply)
            replies[kind] = replies.get(kind, 0) + count
    sent: set[bytes] = set()
    for r in results:
        for first, count in r["ranges"]:
            sent.update(requests[(first + k) % len(requests)] for k in range(count))
    count = len(samples)
    server_cpu = cpu_used(*[cpu_before[0], cpu_after[0]])
    client_cpu = cpu_used(*[cpu_before[1], cpu_after[1]])
    return {
        "per_second": count / seconds,
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "count": count,
        "distinct_requests": len(sent),
        "server_cpu_us": server_cpu / count * 1e6 if count else 0.0,
        "client_cpu_us": client_cpu / count * 1e6 if count else 0.0,
        "server_cores": server_cpu / seconds,
        "client_cores": client_cpu / seconds,
        "load": [load_before, os.getloadavg()[0]],
        "replies": replies,
    }


def _kind(reply: bytes) -> str:
    text = reply.decode(errors="replace")
    if text.startswith("action="):
        return text[len("action=") :].split(" ", 1)[0]
    return text.split(":", 1)[-1].split(" ", 1)[0].rstrip(",")


# --- the servers --------------------------------------------------------------------------------
def start_gateway(
    home: Path, workers: int, threads: int = 1, cache: int = 0
) -> tuple[subprocess.Popen[bytes], int, int]:
    env = {**os.environ, "CLEARANCE_HOME": str(home), "CLEARANCE_DATABASE_URL": ""}
    policy_port, socketmap_port = free_port(), free_port()
    clearance = Path(sys.executable).parent / "clearance"
    command = [str(clearance), "gateway", "serve", "--workers", str(workers), "--mode", "tag"]
    command += ["--lookup-threads", str(threads), "--answer-cache", str(cache)]
    command += ["--policy-port", str(policy_port), "--socketmap-port", str(socketmap_port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    banner = process.stdout.readline().decode()  # printed once every worker listens
    if "policy service on port" not in banner:
        process.kill()
        process.wait()
        raise RuntimeError(f"the gateway did not start: {banner!r}")
    return process, policy_port, socketmap_port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Trivial(asyncio.Protocol):
    """Answers every complete request with a constant reply: the client's ceiling."""

    def __init__(self, terminator: bytes, reply: bytes) -> None:
        self.terminator, self.reply = terminator, reply
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(self.reply * data.count(self.terminator))


def _trivial_server(port: int, terminator: bytes, reply: bytes) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Trivial(terminator, reply), "127.0.0.1", port, reuse_port=True
        )
        async with server:
            await asyncio.Event().wait()

    run_loop(serve())


def start_trivial(workers: int, terminator: bytes, reply: bytes) -> tuple[list[Any], int]:
    port = free_port()
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_trivial_server, args=(port, terminator, reply), daemon=True)
        for _ in range(workers)
    ]
    for p in processes:
        p.start()
    time.sleep(1.0)
    return processes, port


# --- workloads ----------------------------------------------------------------------------------
def addresses(
    home: Path, pop: Population, count: int, seed: int, part: int, hot: bool
) -> list[str]:
    """The random mix over the whole register, or (hot) 80% from 5,000 frequent recipients.
    Mailbox entries are drawn without replacement from one third (`part`) of all of them, so
    no mailbox repeats within a workload or between workloads (answer cache stays cold)."""
    with sqlite3.connect(home / "clearance.db") as db:
        mailboxes = [r[0] for r in db.execute("select address from recipients where address != ''")]
        names = [r[0] for r in db.execute("select name from domains")]
    db.close()
    wide = sorted({a.rsplit("@", 1)[1] for a in pop.domain_wide})
    narrow = sorted(set(names) - set(wide))
    rng = random.Random(seed)
    unused = mailboxes[part::3]
    rng.shuffle(unused)

    def one() -> str:
        roll = rng.random()
        if roll < 0.75:
            return unused.pop()
        if roll < 0.90:
            return f"staff{rng.randrange(10**7)}@{rng.choice(wide)}"
        if roll < 0.95:
            return f"nobody{rng.randrange(10**7)}@{rng.choice(narrow)}"
        return f"someone{rng.randrange(10**7)}@unknown{rng.randrange(10**5)}.example.org"

    if not hot:
        return [one() for _ in range(count)]
    frequent = [one() for _ in range(5_000)]
    return [rng.choice(frequent) if rng.random() < 0.8 else one() for _ in range(count)]


def workloads(home: Path, pop: Population, hot: bool) -> dict[str, tuple[list[bytes], bool]]:
    policy_mix = addresses(home, pop, REQUESTS, 3, 0, False)
    recipient_mix = addresses(home, pop, REQUESTS, 4, 1, False)
    rng = random.Random(5)
    domains = sorted({a.rsplit("@", 1)[1] for a in pop.mailboxes + pop.domain_wide})
    unknown = [f"unknown{n}.example" for n in range(max(1, len(domains) // 9))]
    tls_keys = [rng.choice(domains if rng.random() < 0.9 else unknown) for _ in range(REQUESTS)]
    out = {
        "policy": ([policy_request(a) for a in policy_mix], False),
        "tlspolicy": ([netstring(f"tlspolicy {d}") for d in tls_keys], True),
        "recipient": ([netstring(f"recipient {a}") for a in recipient_mix], True),
    }
    if hot:
        repeated = addresses(home, pop, REQUESTS, 5, 2, True)
        out["policy (repeated mix)"] = ([policy_request(a) for a in repeated], False)
        out["recipient (repeated mix)"] = ([netstring(f"recipient {a}") for a in repeated], True)
    return out


# --- a hostile peer -----------------------------------------------------------------------------
def _flood(port: int, request: bytes, sent: Any) -> None:
    """Pipeline requests at full speed on one connection and never read a reply."""
    chunk = request * max(1, 65536 // len(request))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while True:
            try:
                sock.sendall(chunk)  # blocks while the gateway does not read: as fast as it takes
            except OSError:
                return  # closed by the gateway
            with sent.get_lock():
                sent.value += len(chunk)


def _memory(pid: int) -> float:
    """Private resident MiB of the gateway: the supervisor and its workers."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            total += private_mib(p)
        except OSError:
            continue
    return total


def hostile_pair(
    port: int, work: tuple[list[bytes], bool], args: argparse.Namespace, gateway: int
) -> list[dict[str, Any]]:
    """The policy workload quiet, then with a peer flooding one connection without reading,
    then quiet again (the ratio is to the mean of the two quiet runs: drift in between cancels)."""
    quiet = measure("policy quiet", port, work, args, [gateway])
    quiet["memory_mib"] = _memory(gateway)
    context = multiprocessing.get_context("fork")
    sent = context.Value("q", 0)
    flood = context.Process(target=_flood, args=(port, work[0][0], sent), daemon=True)
    peak = [quiet["memory_mib"]]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _memory(gateway))

    watcher = threading.Thread(target=watch, daemon=True)
    flood.start()
    watcher.start()
    try:
        loud = measure("policy hostile", port, work, args, [gateway])
    finally:
        done.set()
        watcher.join()
        flood.kill()
        flood.join(10)
    loud["memory_mib"] = peak[0]
    loud["hostile_bytes"] = sent.value
    after = measure("policy quiet", port, work, args, [gateway])
    after["memory_mib"] = _memory(gateway)
    reference = (quiet["per_second"] + after["per_second"]) / 2
    loud["ratio"] = loud["per_second"] / reference if reference else 0.0
    print(
        f"hostile: {loud['ratio']:.2f}x the quiet throughput, p99 {loud['p99_ms']:.1f} ms, "
        f"gateway memory {quiet['memory_mib']:.0f} -> at most {peak[0]:.0f} MiB, "
        f"{sent.value / 2**20:,.1f} MiB taken from the hostile peer",
        file=sys.stderr,
    )
    return [quiet, loud, after]


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def prepared(home: Path, entries: int) -> tuple[Population, float]:
    """The register in `home`: written now, or reused when an earlier run with the same
    number of entries left it there (population.json records what was written)."""
    saved = home / "population.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        if data["entries"] == entries:
            print(f"reusing the register of {entries:,} entries in {home}", file=sys.stderr)
            return Population(**data), 0.0
        raise SystemExit(f"{home} holds {data['entries']:,} entries, not {entries:,}")
    home.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    pop = populate(load_settings(home=home, database_url=""), entries)
    populated = time.perf_counter() - began
    saved.write_text(json.dumps(dataclasses.asdict(pop)))
    print(f"populated {entries:,} entries in {populated:.0f} s", file=sys.stderr)
    return pop, populated


def measure(
    name: str, port: int, work: tuple[list[bytes], bool], args: argparse.Namespace, watch: list[int]
) -> dict[str, Any]:
    requests, netstrings = work
    result = load(port, requests, netstrings, args.connections, args.clients, args.seconds, watch)
    result["protocol"] = name
    print(
        f"{name}: {result['per_second']:,.0f}/s p99 {result['p99_ms']:.1f} ms "
        f"(server {result['server_cpu_us']:.0f} us/req, client {result['client_cpu_us']:.0f} "
        f"us/req, load {result['load'][0]:.1f})",
        file=sys.stderr,
    )
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    results = []
    populated = 0.0
    if args.trivial:
        for name, terminator, reply, netstrings, sample in (
            ("trivial policy", b"\n\n", b"action=DUNNO\n\n", False, policy_request("a@b.example")),
            ("trivial socketmap", b",", netstring("OK secure"), True, netstring("tlspolicy b.ex")),
        ):
            servers, port = start_trivial(args.workers, terminator, reply)
            try:
                pids = [p.pid for p in servers if p.pid is not None]
                results.append(measure(name, port, ([sample] * 1000, netstrings), args, pids))
            finally:
                for p in servers:
                    p.terminate()
                    p.join(10)
    with tempfile.TemporaryDirectory(prefix="clearance-bench-gateway-") as tmp:
        home = Path(args.home) if args.home else Path(tmp) / "home"
        pop, populated = prepared(home, args.entries)
        work = workloads(home, pop, args.hot)
        # The random mix without the answer cache (the default); the repeated mix with it.
        cold = [n for n in work if "repeated" not in n]
        hot = [n for n in work if "repeated" in n]
        for cache, names in ((0, cold), (args.cache, hot)):
            if not names:
                continue
            gateway, policy_port, socketmap_port = start_gateway(
                home, args.workers, args.lookup_threads, cache
            )
            try:
                for name in names:
                    port = policy_port if name.startswith("policy") else socketmap_port
                    result = measure(name, port, work[name], args, [gateway.pid])
                    result["answer_cache"] = cache
                    results.append(result)
                if args.hostile and cache == 0:
                    results += hostile_pair(policy_port, work["policy"], args, gateway.pid)
            finally:
                gateway.send_signal(signal.SIGTERM)
                gateway.wait(30)
                if gateway.stdout is not None:
                    gateway.stdout.close()
    return {
        "entries": args.entries,
        "connections": args.connections,
        "clients": args.clients,
        "workers": args.workers,
        "lookup_threads": args.lookup_threads,
        "seconds": args.seconds,
        "populate_seconds": round(populated, 1),
        "machine": machine(),
        "results": results,
        "slapd": "not measured: see docs/perf-gateway.md",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lookup-threads", type=int, default=1, help="per gateway worker")
    parser.add_argument("--hot", action="store_true", help="also a repeated-recipient mix")
    parser.add_argument(
        "--cache", type=int, default=100_000, help="answer cache entries for the repeated mix"
    )
    parser.add_argument("--trivial", action="store_true", help="also the client's ceiling")
    parser.add_argument(
        "--hostile", action="store_true", help="also policy lookups beside a flooding peer"
    )
    parser.add_argument(
        "--home", metavar="DIR", help="keep the register here and reuse it on the next run"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    rows = []
    for r in report["results"]:
        target = TARGETS.get(r["protocol"])
        meets = (target is None or r["per_second"] >= target) and r["p99_ms"] < P99_TARGET_MS
        goal = (f">= {target:,}/s, " if target else "") + "p99 < 5 ms"
        if "ratio" in r:
            meets = r["ratio"] >= HOSTILE_RATIO and r["p99_ms"] < HOSTILE_P99_MS
            goal = f">= {HOSTILE_RATIO}x quiet ({r['ratio']:.2f}x), p99 < {HOSTILE_P99_MS:.0f} ms"
        elif r["protocol"] == "policy quiet":
            goal = "the hostile row's reference (mean)"
            meets = True
        rows.append(
            [
                r["protocol"],
                r["per_second"],
                r["p50_ms"],
                r["p99_ms"],
                r["distinct_requests"] / r["count"] if r["count"] else 0.0,
                r["server_cpu_us"],
                r["client_cpu_us"],
                r["load"][0],
                f"{r['memory_mib']:.0f}" if "memory_mib" in r else "",
                goal,
                "yes" if meets else "no",
            ]
        )
    print(
        f"Gateway, {report['entries']:,} entries (SQLite), {report['connections']} connections "
        f"from {report['clients']} client processes, {report['workers']} gateway workers, "
        f"{report['machine']['cpus']} CPUs"
    )
    columns = ["protocol", "per s", "p50 ms", "p99 ms", "distinct", "server us/req"]
    columns += ["client us/req", "load", "MiB", "target", "met"]
    print(table(columns, rows))
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
