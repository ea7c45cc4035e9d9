"""`clearance gateway serve` as Postfix meets it: its own process, uvloop, SIGTERM to stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from directory import demo
from tests.api.gateway.client import PolicyClient, SocketmapClient
from tests.conftest import FrozenClock, make_directory
from tests.support.servers import free_port


def demo_home(tmp_path: Path) -> tuple[dict[str, str], int, int]:
    """The demo directory under tmp_path, seeded at the real time (the served process runs on
    the real clock): the environment that points at it, and two free ports."""
    directory = make_directory(tmp_path, FrozenClock(datetime.now(UTC)))
    demo.seed(directory)
    directory.close()
    env = {
        **os.environ,
        "CLEARANCE_HOME": str(directory.settings.home),
        "CLEARANCE_DATABASE_URL": "",
    }
    return env, free_port(), free_port()


def test_serve_answers_both_protocols_and_stops_on_sigterm(tmp_path: Path) -> None:
    env, policy_port, socketmap_port = demo_home(tmp_path)
    command = [
        str(Path(sys.executable).parent / "clearance"),
        "gateway",
        "serve",
        "--policy-port",
        str(policy_port),
        "--socketmap-port",
        str(socketmap_port),
        "--mode",
        "enforce-known",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().decode()
        assert f"policy service on port {policy_port}" in banner, banner

        async def ask() -> tuple[str, str, str]:
            policy = await PolicyClient.connect(policy_port)
            unknown = await policy.ask("nobody@example.org")
            await policy.close()
            socketmap = await SocketmapClient.connect(socketmap_port)
            tls = await socketmap.ask("tlspolicy", "wessex.gov.uk")
            known = await socketmap.ask("recipient", "a.jones@casterbridge.gov.uk")
            await socketmap.close()
            return unknown, tls, known

        unknown, tls, known = asyncio.run(ask())
        assert unknown.startswith("550 5.7.1 ")
        assert tls == "OK secure"
        assert known == "OK OK"
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(20) == 0
        assert time.monotonic() - started < 20
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_a_worker_that_dies_is_restarted_and_the_others_keep_serving(tmp_path: Path) -> None:
    env, policy_port, socketmap_port = demo_home(tmp_path)
    command = [
        str(Path(sys.executable).parent / "clearance"), "gateway", "serve", "--workers", "2",
        "--policy-port", str(policy_port), "--socketmap-port", str(socketmap_port),
    ]  # fmt: skip
    log_path = tmp_path / "gateway.log"
    log = log_path.open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def logged() -> str:
        return log_path.read_text()

    async def ask() -> str:
        try:
            client = await SocketmapClient.connect(socketmap_port)
            answer = await client.ask("tlspolicy", "wessex.gov.uk")
            await client.close()
        except OSError as exc:
            return f"{exc!r}\n{logged()}"
        return answer

    def wait_for(condition: Any, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert process.poll() is None, logged()
            assert time.monotonic() < deadline, logged()
            time.sleep(0.05)

    try:
        wait_for(lambda: "policy service on port" in logged())
        workers = children_of(process.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: dead(victim))  # its listening sockets are closed with it
        # the survivor answers all the while (SO_REUSEPORT spreads them); a connection the
        # kernel had already handed to the dying listener is reset (Postfix: a temporary
        # failure, retried), so one such is allowed, no more
        answers = [asyncio.run(ask()) for _ in range(20)]
        assert answers.count("OK secure") >= 19, (answers, logged())
        wait_for(lambda: len(children_of(process.pid) - {victim}) == 2)
        assert process.poll() is None  # the gateway did not stop
        assert f"gateway worker 0 (pid {victim}) exited" in logged() or (
            f"gateway worker 1 (pid {victim}) exited" in logged()
        )
        assert asyncio.run(ask()) == "OK secure"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
