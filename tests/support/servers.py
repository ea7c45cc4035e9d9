"""Helpers for fixtures that start real servers and tools.

A missing binary skips the test locally; under CLEARANCE_REQUIRE_SERVERS=1 (set by .ci/run) it
fails it, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest


def servers_required() -> bool:
    return os.environ.get("CLEARANCE_REQUIRE_SERVERS") == "1"


def require_tool(name: str, *candidates: str) -> str:
    """The path of a program, or skip (locally) / fail (in CI) when it is missing."""
    venv_bin = Path(sys.executable).parent  # pkilint's command-line tools live here
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or shutil.which(candidate, path=str(venv_bin))
        if found is None and Path(candidate).is_file():
            found = candidate
        if found:
            return found
    message = f"{name} is not installed"
    if servers_required():
        pytest.fail(f"{message}, and CLEARANCE_REQUIRE_SERVERS=1")
    pytest.skip(message)


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port free now and not given before in this process: two calls in a row could
    otherwise return the same port (the kernel may hand a just-released one out again)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port
