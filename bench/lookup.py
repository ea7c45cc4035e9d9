"""Benchmark the lookup (issue 2): lookups per second and p50/p99 latency.

    .venv/bin/python bench/lookup.py [--sizes 10000,1000000] [--backends sqlite,postgresql]
        [--modes inprocess,batch,http,http-batch,staleness,reference,memory]
        [--mixes warm,cold] [--seconds 10] [--connections 64] [--batch-connections 4]
        [--workers 2] [--no-mirror] [--quick] [--json FILE]

Modes, each at every size on every backend, with the full policy evaluation in the path;
inprocess, batch, http and http-batch run once per address mix (--mixes warm,cold):
  warm       the realistic mix drawn with repetition from a hot set of 5,000 addresses, the
             same number at every size (50,000 draws in process, 20,000 paths rotating over
             HTTP): the per-process answer cache holds most answers
  cold       the same mix, but no two addresses spelt alike (random case): the answer cache
             almost never holds the answer, every lookup does the whole work
  inprocess  Lookup.lookup, one thread (one core), the garbage collector tuned as the servers
             tune it (api/runtime.py; --default-gc leaves Python's defaults)
  batch      Lookup.lookup_many, batches of 1,000 (addresses/s; latency per batch), likewise
  http       GET /v1/lookup through `clearance serve --workers N` (uvicorn, log level warning,
             no access log), driven by wrk (Lua script: Authorization header, rotating
             addresses) with 64 connections on the same machine; an async httpx client when wrk
             is missing (`apt-get install wrk`). Also the RSS of each worker.
  http-batch POST /v1/lookups, 1,000 addresses a request, through the same server, driven by
             wrk with 4 connections (--batch-connections): addresses/s, latency per request
  staleness  suspend an organisation, then poll GET /v1/lookup until its answer changes: how
             long a change takes to show (bounded by cache_refresh_seconds)
  reference  the yardstick: a bare FastAPI endpoint over the same indexed table (no key, no
             policy; bench/reference_app.py), served and loaded exactly as `http`
  memory     RSS growth of one process while its answer cache fills to its bound

In process and in the servers the lookup reads the local lookup mirror (directory/store/
mirror.py), made once after the register is written (the time is printed); --no-mirror reads
the store instead. The register is written by bulk inserts (bench/population.py). PostgreSQL is
a private server started as the tests start theirs (tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

import httpx  # noqa: E402

from api.runtime import tuned_gc  # noqa: E402
from bench.common import (  # noqa: E402
    cpu_snapshot,
    cpu_used,
    machine,
    percentile,
    private_mib,
    table,
    write_json,
)
from bench.http_load import api_server, run_load, wait_ready, worker_rss  # noqa: E402
from bench.population import Population, populate  # noqa: E402
from directory.authz import Principal  # noqa: E402
from directory.service import Directory  # noqa: E402
from directory.settings import Settings, load_settings  # noqa: E402
from directory.store.mirror import MirroredFinder  # noqa: E402

OPERATOR = Principal("cli:bench", frozenset({"directory-admin"}))
MODES = ("inprocess", "batch", "http", "http-batch", "staleness", "reference", "memory")
MIXES = ("warm", "cold")


def in_process(
    directory: Directory, addresses: list[str], seconds: float, db: list[int]
) -> dict[str, Any]:
    lookup = directory.lookup.lookup
    for address in addresses[-2000:]:  # warm: snapshot, evaluations, statement caches
        lookup(address, "OFFICIAL")
    counts = _counts(directory)
    latencies: list[float] = []
    clock = time.perf_counter
    cpu = time.process_time(), cpu_snapshot(db)
    began = clock()
    deadline = began + seconds
    i = 0
    while clock() < deadline:
        for address in addresses[i : i + 1000]:
            start = clock()
            lookup(address, "OFFICIAL")
            latencies.append(clock() - start)
        i = (i + 1000) % len(addresses)
    elapsed = clock() - began
    used = time.process_time() - cpu[0] + cpu_used(cpu[1], cpu_snapshot(db))
    return {
        "per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "count": len(latencies),
        "hit_rate": _hit_rate(directory, counts),
        "cache_entries": len(directory.lookup.answers.entries),
        **_cpu(used, len(latencies), cores=1),
    }


def batch(
    directory: Directory, addresses: list[str], seconds: float, db: list[int]
) -> dict[str, Any]:
    lookup_many = directory.lookup.lookup_many
    batches = [addresses[i : i + 1000] for i in range(0, len(addresses) - 999, 1000)]
    lookup_many(batches[-1], "OFFICIAL")  # warm, without answering the first batch from cache
    counts = _counts(directory)
    latencies: list[float] = []
    done = 0
    cpu = time.process_time(), cpu_snapshot(db)
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        chunk = batches[len(latencies) % len(batches)]
        start = time.perf_counter()
        answers = lookup_many(chunk, "OFFICIAL")
        latencies.append(time.perf_counter() - start)
        done += len(answers)
    elapsed = time.perf_counter() - began
    used = time.process_time() - cpu[0] + cpu_used(cpu[1], cpu_snapshot(db))
    return {
        "per_second": done / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "count": done,
        "hit_rate": _hit_rate(directory, counts),
        **_cpu(used, done, cores=1),
    }


def _counts(directory: Directory) -> tuple[int, int]:
    return directory.lookup.answers.hits, directory.lookup.answers.misses


def _hit_rate(directory: Directory, before: tuple[int, int]) -> float:
    hits, misses = (a - b for a, b in zip(_counts(directory), before, strict=True))
    return hits / (hits + misses) if hits + misses else 0.0


def cold_mix(pop: Population, count: int, seed: int = 5) -> list[str]:
    """`count` addresses of the same mix, no two spelt alike: each is a mixed-case spelling of
    an address of the mix (of its local part; of the domain too once the local part has few
    spellings left). Normalisation lowercases them, but the answer cache is keyed by the
    address as given, so it almost never holds the answer: every lookup does the whole work
    (normalise, read the store, build the answer) with the register snapshot warm."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    for address in pop.mix(count, seed=seed):
        local, _, domain = address.rpartition("@")
        for attempt in range(60):
            if attempt == 20:  # few spellings of this local part left: vary the domain too
                local, domain = address, ""
            bits = rng.getrandbits(len(local))
            spelt = "".join(c.upper() if bits >> i & 1 else c.lower() for i, c in enumerate(local))
            spelt = f"{spelt}@{domain}" if domain else spelt
            if spelt not in seen:
                break
        seen.add(spelt)
        out.append(spelt)
    return out


def cache_memory(directory: Directory, addresses: list[str]) -> dict[str, Any]:
    """Memory held by a full answer cache: what tracemalloc sees retained after filling it
    (RSS cannot tell within one process: the heap is reused from earlier modes)."""
    cache = directory.lookup.answers
    lookup = directory.lookup.lookup
    for address in addresses[:2000]:
        lookup(address, "OFFICIAL")
    cache.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for address in addresses[: cache.max_entries - 1]:
            lookup(address, "OFFICIAL")
        entries = len(cache.entries)
        gc.collect()
        grown = (tracemalloc.get_traced_memory()[0] - before) / 2**20
    finally:
        tracemalloc.stop()
    return {
        "per_second": None,
        "p50_ms": None,
        "p99_ms": None,
        "count": entries,
        "cache_entries": entries,
        "cache_mib": grown,
    }


def _cpu(seconds: float, operations: int, cores: int) -> dict[str, Any]:
    """CPU per operation (every process involved), and the rate those CPU costs would allow on
    `cores` otherwise idle cores: a load-independent figure beside the measured one."""
    per_op = seconds / operations if operations else 0.0
    return {
        "cpu_us_per_op": per_op * 1e6,
        "cpu_bound_per_second": cores / per_op if per_op else None,
    }


def http(
    env: dict[str, str],
    pop: Population,
    args: argparse.Namespace,
    port: int,
    db: list[int],
    factory: str | None = None,
    addresses: list[str] | None = None,
) -> dict[str, Any]:
    """Warm: 20,000 draws from the hot set in rotation (each worker soon holds their answers).
    Cold (`addresses` given): every request a different spelling (see cold_mix), warmed up on
    the hot set, so that no measured address has been asked before."""
    headers = {"Authorization": f"Bearer {pop.api_key}"}
    hot = [_lookup_path(a) for a in pop.hot(20_000, seed=11)]
    paths = hot if addresses is None else [_lookup_path(a) for a in addresses]
    base = f"http://127.0.0.1:{port}"
    with api_server(env, port, args.workers, factory) as pid:
        wait_ready(base + paths[0], headers)
        run_load(base, hot, headers, connections=args.connections, seconds=2)  # warm up
        before = cpu_snapshot([pid, *db])
        result = run_load(base, paths, headers, connections=args.connections, seconds=args.seconds)
        server_cpu = cpu_used(before, cpu_snapshot([pid, *db]))
        rss = worker_rss(pid)
        private = worker_rss(pid, private_mib)
    return _http_row(result, server_cpu, rss, private)


def _lookup_path(address: str) -> str:
    return f"/v1/lookup?address={quote(address, safe='@')}&classification=OFFICIAL"


def http_batch(
    env: dict[str, str],
    pop: Population,
    args: argparse.Namespace,
    port: int,
    db: list[int],
    addresses: list[str] | None = None,
) -> dict[str, Any]:
    """POST /v1/lookups, 1,000 addresses a request, `--batch-connections` at once: addresses
    per second. Warm: batches drawn from the hot set. Cold (`addresses` given): no address
    asked twice (the list is longer than the run needs)."""
    headers = {"Authorization": f"Bearer {pop.api_key}"}
    hot = _bodies(pop.hot(50_000, seed=13))
    bodies = hot if addresses is None else _bodies(addresses)
    base = f"http://127.0.0.1:{port}"
    connections = args.batch_connections
    with api_server(env, port, args.workers) as pid:
        wait_ready(base + _lookup_path(pop.mailboxes[0]), headers)
        run_load(base, ["/v1/lookups"], headers, connections=connections, seconds=2, bodies=hot)
        before = cpu_snapshot([pid, *db])
        result = run_load(
            base,
            ["/v1/lookups"],
            headers,
            connections=connections,
            seconds=args.seconds,
            bodies=bodies,
        )
        server_cpu = cpu_used(before, cpu_snapshot([pid, *db]))
        rss = worker_rss(pid)
        private = worker_rss(pid, private_mib)
    return _http_row(result, server_cpu, rss, private, per_request=BATCH)


BATCH = 1000


def _batch_addresses(args: argparse.Namespace) -> int:
    """Cold batches over HTTP: addresses enough for 150,000 a second, in whole batches."""
    return int(args.seconds * 150) * BATCH


def _bodies(addresses: list[str]) -> list[str]:
    return [
        json.dumps({"addresses": addresses[i : i + BATCH], "classification": "OFFICIAL"})
        for i in range(0, len(addresses) - BATCH + 1, BATCH)
    ]


def _http_row(
    result: Any, server_cpu: float, rss: list[float], private: list[float], per_request: int = 1
) -> dict[str, Any]:
    """A row for an HTTP run; with batches (`per_request` addresses a request) the rate and the
    CPU are per address, the latencies per request."""
    done = result.requests * per_request
    return {
        "per_second": result.per_second * per_request,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "count": done,
        "requests": result.requests,
        "errors": result.errors,
        "tool": result.tool,
        "rss_mib_per_worker": [round(r, 1) for r in rss],
        "private_mib_per_worker": [round(r, 1) for r in private],
        "server_cpu_us_per_request": server_cpu / result.requests * 1e6 if result.requests else 0,
        **_cpu(server_cpu + result.client_cpu, done, cores=os.cpu_count() or 1),
    }


def staleness(
    env: dict[str, str], settings: Settings, pop: Population, workers: int, port: int
) -> dict[str, Any]:
    """Suspend the organisation of a known mailbox; time until every worker's answer says so."""
    directory = Directory(settings)
    try:
        address = next(a for a in pop.mailboxes if directory.lookup.lookup(a)["known"])
        entry = directory.store.mailbox_entry(address.lower())
        if entry is None:
            raise RuntimeError(f"{address} is not in the register")
        base = f"http://127.0.0.1:{port}/v1/lookup?address={quote(address, safe='@')}"
        headers = {"Authorization": f"Bearer {pop.api_key}"}
        with api_server(env, port, workers), httpx.Client(headers=headers, timeout=5) as client:
            wait_ready(base, headers)
            if client.get(base).json()["known"] is not True:
                raise RuntimeError(f"{address} should be known before the suspension")
            directory.registration.set_status(OPERATOR, entry.organisation_id, "suspended", "bench")
            changed = time.perf_counter()
            seen: float | None = None
            stable = 0
            while time.perf_counter() - changed < 30:
                # new connections land on either worker; require 20 answers in a row
                with httpx.Client(headers=headers, timeout=5) as fresh:
                    known = fresh.get(base).json()["known"]
                if known:
                    seen, stable = None, 0
                else:
                    seen = seen or time.perf_counter()
                    stable += 1
                    if stable >= 20:
                        break
                time.sleep(0.01)
            directory.registration.set_status(OPERATOR, entry.organisation_id, "active", "bench")
    finally:
        directory.close()
    shown = (seen - changed) if seen is not None else None
    return {
        "per_second": None,
        "p50_ms": None,
        "p99_ms": None,
        "count": None,
        "shown_after_ms": shown * 1000 if shown is not None else None,
        "bound_ms": settings.cache_refresh_seconds * 1000,
    }


@contextmanager
def backend(name: str, workdir: Path) -> Iterator[tuple[str, list[int]]]:
    """A base database URL ('' for SQLite: a file per size, or a private PostgreSQL server) and
    the database server's process ids (none for SQLite), for CPU accounting."""
    if name == "sqlite":
        yield "", []
        return
    from tests.support.postgres import postgres_server

    with postgres_server(workdir / "postgres") as url:
        pidfile = workdir / "postgres" / "pgdata" / "postmaster.pid"
        yield url, [int(pidfile.read_text().split()[0])]


def database_for(
    base_url: str, size: int, workdir: Path, mirror: bool = True
) -> tuple[dict[str, str], Settings]:
    home = workdir / f"home-{size}"
    home.mkdir(parents=True, exist_ok=True)
    url = ""
    if base_url:
        import psycopg

        name = f"bench_{size}"
        plain = base_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        url = base_url.rsplit("/", 1)[0] + f"/{name}"
    env = {
        "CLEARANCE_HOME": str(home),
        "CLEARANCE_DATABASE_URL": url,
        "CLEARANCE_LOOKUP_MIRROR": "true" if mirror else "false",
    }
    return env, load_settings(home=home, database_url=url, lookup_mirror=mirror)


def build_mirror(settings: Settings) -> dict[str, Any] | None:
    """With PostgreSQL: make the servers' local lookup mirror before they start (the first
    copy, timed); None when there is none to make."""
    directory = Directory(settings, serving=True)
    try:
        finder = directory.store.mailboxes
        if not isinstance(finder, MirroredFinder):
            return None
        began = time.perf_counter()
        finder.mirror.sync()
        took = time.perf_counter() - began
        return {"seconds": took, "mib": finder.mirror.path.stat().st_size / (1 << 20)}
    finally:
        directory.close()


def mirror_current(directory: Directory) -> bool:
    """Bring a serving directory's mirror up to date now, so that lookups read it from the
    next refresh on (in a server the syncer thread does this); False when it has none."""
    finder = directory.store.mailboxes
    if not isinstance(finder, MirroredFinder):
        return False
    finder.mirror.sync()
    directory.lookup.snapshots.invalidate()
    return True


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    from tests.support.servers import free_port

    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o711)  # PostgreSQL runs as its own user (as root: `postgres`)
        for backend_name in args.backends:
            with ExitStack() as stack:
                base_url, db = stack.enter_context(backend(backend_name, workdir))
                for size in args.sizes:
                    env, settings = database_for(
                        base_url, size, workdir / backend_name, mirror=not args.no_mirror
                    )
                    began = time.perf_counter()
                    pop = populate(settings, size)
                    written = time.perf_counter() - began
                    print(
                        f"# {backend_name}: {size:,} entries ({pop.organisations:,} organisations, "
                        f"{pop.domains:,} domains) written in {written:.1f} s",
                        file=sys.stderr,
                    )
                    mirror = build_mirror(settings)
                    if mirror is not None:
                        print(
                            f"# lookup mirror: {mirror['mib']:.0f} MiB made in "
                            f"{mirror['seconds']:.1f} s",
                            file=sys.stderr,
                        )
                    warm = pop.hot(50_000)
                    cold = cold_mix(pop, min(400_000, int(args.seconds * 40_000) + 205_000))
                    for mode, mix in _plan(args):
                        row: dict[str, Any] = {"backend": backend_name, "entries": size}
                        row["mode"] = f"{mode} {mix}" if mix else mode
                        row["mix"] = mix
                        addresses = cold if mix == "cold" else warm
                        if mode in ("inprocess", "batch", "memory"):
                            directory = Directory(settings, serving=True)
                            try:
                                mirrored = mirror_current(directory)
                                if mode == "memory":
                                    row.update(cache_memory(directory, cold))
                                else:
                                    measure = in_process if mode == "inprocess" else batch
                                    # the collector as `clearance serve` runs it (--default-gc:
                                    # as a plain Python process)
                                    gc_mode = nullcontext() if args.default_gc else tuned_gc()
                                    with gc_mode:
                                        row.update(measure(directory, addresses, args.seconds, db))
                                row["mirror"] = mirrored and _reading_mirror(directory)
                            finally:
                                directory.close()
                        elif mode == "http":
                            given = cold[:150_000] if mix == "cold" else None
                            row.update(http(env, pop, args, free_port(), db, addresses=given))
                        elif mode == "http-batch":
                            given = None
                            if mix == "cold":  # more than the run can ask: never one twice
                                given = cold_mix(pop, _batch_addresses(args), seed=9)
                            row.update(http_batch(env, pop, args, free_port(), db, given))
                        elif mode == "reference":
                            ref_env = {**env, "BENCH_REFERENCE_URL": settings.url}
                            factory = "bench.reference_app:create_app"
                            row.update(http(ref_env, pop, args, free_port(), db, factory))
                        else:
                            row.update(staleness(env, settings, pop, args.workers, free_port()))
                        print(_progress(row), file=sys.stderr)
                        results.append(row)
    return results


def _reading_mirror(directory: Directory) -> bool:
    finder = directory.store.mailboxes
    return isinstance(finder, MirroredFinder) and finder.reading_mirror


def _plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(mode, mix) in order: lookups once per mix, the rest once."""
    out: list[tuple[str, str]] = []
    for mode in args.modes:
        if mode in ("inprocess", "batch", "http", "http-batch"):
            out += [(mode, mix) for mix in args.mixes]
        else:
            out.append((mode, ""))
    return out


def _progress(row: dict[str, Any]) -> str:
    shown = (f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
    return "#   " + ", ".join(shown)


def _rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in results:
        rss = r.get("rss_mib_per_worker")
        note = ""
        if r.get("hit_rate") is not None:
            note = f"cache hits {r['hit_rate']:.1%}"
            if r.get("mirror"):
                note += ", mirror"
        if r["mode"].startswith(("http", "reference")):
            note = f"{r['tool']}, {r['errors']} errors"
            if r.get("private_mib_per_worker"):
                note += f", own (RssAnon) {max(r['private_mib_per_worker']):.0f} MiB"
        if r["mode"] == "memory":
            note = f"{r['cache_entries']:,} cached answers hold {r['cache_mib']:.0f} MiB"
        if r["mode"] == "staleness":
            shown = r["shown_after_ms"]
            note = (
                f"shown after {shown:.0f} ms (bound {r['bound_ms']:.0f} ms)"
                if shown is not None
                else "NOT SHOWN within 30 s"
            )
        out.append(
            [
                r["backend"],
                r["entries"],
                r["mode"],
                r["per_second"],
                r["p50_ms"],
                r["p99_ms"],
                r.get("cpu_us_per_op"),
                r.get("cpu_bound_per_second"),
                max(rss) if rss else None,
                note,
            ]
        )
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="recipient entries, comma list")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--mixes", default=",".join(MIXES), help="warm (rotating), cold")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--batch-connections", type=int, default=4, help="http-batch: requests at once"
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="in process: leave the garbage collector as Python sets it, not as the servers do",
    )
    parser.add_argument(
        "--no-mirror",
        action="store_true",
        help="PostgreSQL: no local lookup mirror (every uncached lookup asks the server)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 entries, 2 s each: a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    args.backends = [b for b in args.backends.split(",") if b]
    args.modes = [m for m in args.modes.split(",") if m]
    args.mixes = [m for m in args.mixes.split(",") if m]
    if args.quick:
        args.sizes, args.seconds = [2000], 2.0
    for value, known, what in (
        (args.backends, ("sqlite", "postgresql"), "backend"),
        (args.modes, MODES, "mode"),
        (args.mixes, MIXES, "mix"),
    ):
        for item in value:
            if item not in known:
                parser.error(f"unknown {what} {item!r}: choose from {', '.join(known)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers and files
    host = machine()
    results = run(args)
    print(
        f"machine: {host['cpus']} CPUs ({host['cpu_model']}), {host['memory_mib']:,} MiB; "
        f"load average at start {host['load_average'][0]:.2f}"
    )
    print(
        table(
            [
                "backend",
                "entries",
                "mode",
                "per s",
                "p50 ms",
                "p99 ms",
                "CPU us/op",
                "CPU-bound /s",
                "RSS MiB",
                "note",
            ],
            _rows(results),
        )
    )
    if args.json:
        after = machine()["load_average"]
        write_json(
            args.json,
            {
                "machine": host,
                "load_average_at_end": after,
                "settings": {
                    "workers": args.workers,
                    "connections": args.connections,
                    "seconds": args.seconds,
                },
                "results": results,
            },
        )


if __name__ == "__main__":
    main()
