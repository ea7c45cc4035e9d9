"""`make demo`'s path as a fixture: `clearance demo`, then `clearance serve` as a real process on
127.0.0.1 and a free port, stopped cleanly afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def clearance() -> list[str]:
    script = Path(sys.executable).parent / "clearance"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from api.cli.main import main; main()"]


@dataclass(frozen=True)
class Served:
    url: str
    key: str  # the demo's lookup API key
    home: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*clearance(), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )


@contextmanager
def served_demo(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    env = {**os.environ, "CLEARANCE_HOME": str(home)}
    env.pop("CLEARANCE_DATABASE_URL", None)
    demo = subprocess.run(
        [*clearance(), "demo"], env=env, cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert demo.returncode == 0, demo.stderr
    key = (home / "demo-api-key").read_text().strip()
    assert key in demo.stdout
    with serving(env, tmp_path / "serve.log") as url:
        yield Served(url, key, home, env)


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`clearance serve` on 127.0.0.1 and a free port with this environment, until it answers;
    its URL; then a graceful stop (SIGTERM), checked."""
    port = free_port()
    log = log_path.open("w")
    server = subprocess.Popen(
        [*clearance(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                httpx.get(f"{url}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
        finally:
            log.close()
    # A graceful shutdown: uvicorn exits 0, or re-raises the SIGTERM it handled (newer versions).
    assert code in (0, -signal.SIGTERM), log_path.read_text()
