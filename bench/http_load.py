"""HTTP load for benchmarks: wrk (Debian `apt-get install wrk`) with a Lua script rotating through
request paths, or an async httpx client when wrk is missing. Also starts and stops the server."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, children, percentile, rss_mib


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, connection errors and timeouts
    client_cpu: float  # CPU seconds the load generator used

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@contextmanager
def api_server(
    env: dict[str, str], port: int, workers: int, factory: str | None = None
) -> Iterator[int]:
    """Run `clearance serve --workers N` (uvicorn, production settings), or another app
    factory with the same uvicorn settings; yield its pid."""
    cli = Path(sys.executable).parent / "clearance"
    if factory is not None:
        command = [
            sys.executable,
            "-c",
            f"import uvicorn; uvicorn.run({factory!r}, factory=True, host='127.0.0.1', "
            f"port={port}, workers={workers}, log_level='warning', access_log=False, "
            "proxy_headers=False)",
        ]
    elif cli.exists():
        command = [str(cli)]
    else:
        command = [sys.executable, "-c", "from api.cli.main import main; main()"]
    if factory is None:
        command += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield server.pid
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_ready(url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get(url, headers=headers)
                if answer.status_code == 200:
                    return
                last = f"HTTP {answer.status_code}: {answer.text[:200]}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
    raise RuntimeError(f"the API did not become ready: {last}")


def worker_rss(server_pid: int, measure: Callable[[int], float] = rss_mib) -> list[float]:
    """RSS (MiB) of each uvicorn worker process: the server's children started by spawn (or
    another per-process measure, such as bench.common.private_mib)."""
    out = []
    for pid in children(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                out.append(measure(pid))
        except OSError:
            continue
    return out or [measure(server_pid)]


def run_load(
    base: str,
    paths: Sequence[str],
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    bodies: Sequence[str] | None = None,
) -> LoadResult:
    """GET each of `paths` in turn or, with `bodies`, POST each body in turn to `paths[0]`
    (JSON). The load generator's threads start at evenly spaced offsets, so that a list longer
    than the run needs is never asked twice."""
    if shutil.which("wrk"):
        return _wrk(base, paths, headers, connections, seconds, threads, bodies)
    return asyncio.run(_httpx(base, paths, headers, connections, seconds, bodies))


_LUA = """
local paths = {%(paths)s}
local bodies = {%(bodies)s}
%(headers)s
local counter = 0
local next_id = 0
local items = #bodies > 0 and #bodies or #paths
function setup(thread)
  thread:set("offset", next_id * math.floor(items / %(threads)d))
  next_id = next_id + 1
end
function init(args)
  counter = offset or 0
end
function request()
  counter = counter + 1
  if #bodies > 0 then
    return wrk.format("POST", paths[1], nil, bodies[(counter %% #bodies) + 1])
  end
  return wrk.format(nil, paths[(counter %% #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here (ASCII)


def _wrk(
    base: str,
    paths: Sequence[str],
    headers: dict[str, str],
    connections: int,
    seconds: float,
    threads: int,
    bodies: Sequence[str] | None = None,
) -> LoadResult:
    if bodies:
        headers = {**headers, "Content-Type": "application/json"}
    script = _LUA % {
        "paths": ",\n".join(_lua_string(p) for p in paths),
        "bodies": ",\n".join(_lua_string(b) for b in bodies or ()),
        "threads": threads,
        "headers": "\n".join(
            f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()
        ),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                handle.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    return LoadResult(
        "wrk",
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["errors"],
        cpu,
    )


async def _httpx(
    base: str,
    paths: Sequence[str],
    headers: dict[str, str],
    connections: int,
    seconds: float,
    bodies: Sequence[str] | None = None,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    cpu_before = time.process_time()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        deadline = time.perf_counter() + seconds

        items = len(bodies) if bodies else len(paths)
        json_type = {"Content-Type": "application/json"}

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                i += 1
                start = time.perf_counter()
                try:
                    if bodies:
                        answer = await client.post(
                            paths[0], content=bodies[i % items], headers=json_type
                        )
                    else:
                        answer = await client.get(paths[i % items])
                    if answer.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker(n * (items // connections)) for n in range(connections)))
        elapsed = time.perf_counter() - began
    return LoadResult(
        "httpx",
        len(latencies),
        elapsed,
        percentile(latencies, 50),
        percentile(latencies, 99),
        errors,
        time.process_time() - cpu_before,
    )
