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

from directory import demo
from tests.api.gateway.client import PolicyClient, SocketmapClient
from tests.conftest import FrozenClock, make_directory
from tests.support.servers import free_port


def test_serve_answers_both_protocols_and_stops_on_sigterm(tmp_path: Path) -> None:
    # Seeded at the real time: the served process runs on the real clock.
    directory = make_directory(tmp_path, FrozenClock(datetime.now(UTC)))
    demo.seed(directory)
    directory.close()
    policy_port, socketmap_port = free_port(), free_port()
    env = {
        **os.environ,
        "CLEARANCE_HOME": str(directory.settings.home),
        "CLEARANCE_DATABASE_URL": "",
    }
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
