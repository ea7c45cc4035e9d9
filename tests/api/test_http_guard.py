"""The HTTP limits uvicorn leaves open (api/http_guard.py), against a real uvicorn server on
127.0.0.1 with the guarded protocol and short timeouts: head size and header count (431),
a slow head or a silent connection (408), a stalled body (closed); well-behaved requests,
keep-alive and pipelining unchanged."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from api.http_guard import MAX_HEAD_BYTES, GuardedHttpToolsProtocol
from tests.support.servers import free_port

HEAD_TIMEOUT = 0.5
BODY_TIMEOUT = 0.5
seen: list[dict[str, Any]] = []  # what the application got: requests and disconnects


class QuickGuard(GuardedHttpToolsProtocol):
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            seen.append({"path": scope["path"], "disconnected": True, "body": len(body)})
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen.append({"path": scope["path"], "body": len(body), "headers": len(scope["headers"])})
    reply = json.dumps({"path": scope["path"], "body": len(body)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    number = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=number, http=QuickGuard, log_level="error", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def reply_of(raw: bytes) -> tuple[int, dict[str, Any] | None]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else None


def closes_within(sock: socket.socket, low: float, high: float) -> bytes:
    began = time.monotonic()
    raw = read_all(sock)
    waited = time.monotonic() - began
    assert low <= waited <= high, waited
    return raw


def test_a_well_behaved_request_keep_alive_and_pipelining(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200") and b'"/one"' in first
        # two pipelined, the second with a body, in one write
        sock.sendall(
            b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        )
        got = b""
        while got.count(b"HTTP/1.1 200") < 2:
            got += sock.recv(65536)
        assert b'"/two"' in got and b'{"path": "/three", "body": 5}' in got


def test_a_head_that_never_ends_is_431_once_it_passes_the_limit(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ")
        sent = 0
        with pytest.raises(OSError):  # reset or broken pipe once the server has closed
            while sent < 64 * 2**20:  # a header that never ends
                sock.sendall(b"a" * 4096)
                sent += 4096
        # the head's limit, what the server drops while it lingers, and the sockets' buffers
        assert sent < 64 * 2**20


def test_a_large_head_gets_a_431_problem(port: int) -> None:
    with connect(port) as sock:
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (MAX_HEAD_BYTES + 10)
        sock.sendall(head)
        status, problem = reply_of(read_all(sock))
    assert status == 431 and problem is not None
    assert problem["type"] == "urn:clearance:problem:head-too-large"


def test_too_many_header_fields_are_431(port: int) -> None:
    fields = b"".join(b"X-%d: v\r\n" % n for n in range(101))
    with connect(port) as sock:
        sock.sendall(b"GET /many HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        status, problem = reply_of(read_all(sock))
    assert status == 431 and problem is not None and "header fields" in problem["detail"]
    assert not [s for s in seen if s["path"] == "/many"]  # the application never saw it
    fields = b"".join(b"X-%d: v\r\n" % n for n in range(99))  # 99 + Host: accepted
    with connect(port) as sock:
        sock.sendall(b"GET /enough HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_slow_head_is_408(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        raw = closes_within(sock, HEAD_TIMEOUT * 0.8, HEAD_TIMEOUT + 5)
    status, problem = reply_of(raw)
    assert status == 408 and problem is not None
    assert problem["type"] == "urn:clearance:problem:request-timeout"


def test_a_trickled_head_does_not_outlast_the_timeout(port: int) -> None:
    with connect(port) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /trickle HTTP/1.1\r\n")
        with pytest.raises(OSError):
            for _ in range(100):  # one byte every 0.1 s: it would take 10 s
                time.sleep(0.1)
                sock.sendall(b"X-A: b\r\n")
        assert time.monotonic() - began < HEAD_TIMEOUT + 5


def test_a_silent_connection_is_closed(port: int) -> None:
    with connect(port) as sock:
        status, _ = reply_of(closes_within(sock, HEAD_TIMEOUT * 0.8, HEAD_TIMEOUT + 5))
    assert status == 408


def test_a_stalled_body_is_closed_and_the_application_told(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        assert closes_within(sock, BODY_TIMEOUT * 0.8, BODY_TIMEOUT + 5) == b""
    deadline = time.monotonic() + 5
    while not [s for s in seen if s["path"] == "/stalled"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [s for s in seen if s["path"] == "/stalled"] == [
        {"path": "/stalled", "disconnected": True, "body": 10}
    ]


def test_a_slow_but_moving_body_is_not_closed(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"POST /moving HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for byte in b"abcdefgh":  # 8 x 0.2 s: longer than the body timeout, never stalled
            time.sleep(BODY_TIMEOUT * 0.4)
            sock.sendall(bytes([byte]))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
