"""A broken or hostile peer on the gateway's ports: bounded, and nothing else disturbed
(issue 22). Each case is reproduced at a bounded size; waits are on conditions, with deadlines."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest

from api.gateway.connection import QueuedConnection
from api.gateway.server import Gateway
from api.gateway.wire import netstring
from directory.service import Directory
from tests.api.gateway.client import PolicyClient, SocketmapClient
from tests.api.gateway.test_servers import serve

RCPT = (
    b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.org\n"
    b"recipient=j.smith@wessex.gov.uk\n\n"
)


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for the condition (polled); fail if it has not held within `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def closed_by_server(reader: asyncio.StreamReader, seconds: float = 10.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except TimeoutError:
        return False


def the_connection(gw: Gateway) -> QueuedConnection[Any]:
    """The one connection open, with a small kernel send buffer: replies the peer does not
    read back up into the transport at once (on loopback the kernel would hold megabytes)."""
    [connection] = list(gw.connections.open)
    assert connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return connection


READ = 256 * 1024  # the most one read brings (asyncio's selector transport)


async def raw_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # replies back up quickly
    sock.setblocking(False)
    return await asyncio.open_connection(sock=sock)


async def flood_without_reading(
    gw: Gateway, port: int, request: bytes, copies: int
) -> asyncio.StreamWriter:
    """One peer sends `copies` requests and never reads a reply: what the worker holds for it
    stays bounded by one read and the queue bound, not by what it sent."""
    _reader, writer = await raw_connection(port)
    writer.write(request[:5])
    await until(lambda: len(gw.connections.open) == 1)
    hostile = the_connection(gw)
    writer.write(request[5:] + request * copies)
    await until(lambda: hostile.writing_paused and hostile.reading_paused)
    await asyncio.sleep(0.5)  # and it stays so: nothing more is read
    bound = READ + gw.rules.limits.max_pending * len(request)
    assert len(hostile.queued) * len(request) + hostile.reader.pending <= bound
    assert hostile.transport is not None
    assert hostile.transport.get_write_buffer_size() < 1024 * 1024
    return writer


def test_pipelining_without_reading_is_bounded_and_others_are_answered(
    demo_directory: Directory,
) -> None:
    async def scenario(gw: Gateway) -> None:
        writer = await flood_without_reading(gw, gw.policy_port, RCPT, 50_000)  # ~6 MB
        # meanwhile a well-behaved client is answered as usual
        polite = await PolicyClient.connect(gw.policy_port)
        assert (await polite.ask("j.smith@wessex.gov.uk")).startswith("PREPEND")
        await polite.close()
        writer.transport.abort()
        await writer.wait_closed()

    serve(demo_directory, scenario)


def test_a_socketmap_peer_that_does_not_read_holds_at_most_one_read(
    demo_directory: Directory,
) -> None:
    async def scenario(gw: Gateway) -> None:
        request = netstring("tlspolicy x.uk")
        writer = await flood_without_reading(gw, gw.socketmap_port, request, 200_000)
        polite = await SocketmapClient.connect(gw.socketmap_port)
        assert await polite.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
        await polite.close()
        writer.transport.abort()
        await writer.wait_closed()

    serve(demo_directory, scenario)


def test_a_request_begun_and_never_finished_is_closed(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.policy_port)
        writer.write(b"request=smtpd_access_policy\nprotocol_state=RCPT\n")  # and nothing more
        assert await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()

    serve(demo_directory, scenario, request_timeout_seconds=0.5)


def test_an_idle_connection_is_closed_after_the_idle_timeout_and_a_busy_one_is_not(
    demo_directory: Directory,
) -> None:
    async def scenario(gw: Gateway) -> None:
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", gw.socketmap_port)
        busy = await SocketmapClient.connect(gw.socketmap_port)
        loop = asyncio.get_running_loop()
        closed = asyncio.ensure_future(closed_by_server(idle_reader))
        started = loop.time()
        while not closed.done():
            assert await busy.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
            assert loop.time() - started < 10, "the idle connection was not closed"
            await asyncio.sleep(0.1)
        assert closed.result() is True
        assert await busy.ask("tlspolicy", "wessex.gov.uk") == "OK secure"  # still open
        await busy.close()
        idle_writer.close()
        await idle_writer.wait_closed()

    serve(demo_directory, scenario, idle_timeout_seconds=1.0)


def test_connections_over_the_cap_are_closed_at_once_and_logged_once(
    demo_directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(gw: Gateway) -> None:
        admitted = [await SocketmapClient.connect(gw.socketmap_port) for _ in range(3)]
        await until(lambda: len(gw.connections.open) == 3)
        for _ in range(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.socketmap_port)
            assert await closed_by_server(reader)
            writer.close()
            await writer.wait_closed()
        assert gw.connections.refused == 2
        for client in admitted:  # the admitted ones are untouched
            assert await client.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
        await admitted[0].close()
        await until(lambda: len(gw.connections.open) == 2)
        again = await SocketmapClient.connect(gw.socketmap_port)
        assert await again.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
        for client in [*admitted[1:], again]:
            await client.close()

    with caplog.at_level(logging.WARNING, logger="clearance.gateway"):
        serve(demo_directory, scenario, max_connections=3)
    assert [r.getMessage() for r in caplog.records].count(
        "connection cap reached (3 per worker): new connections are closed at once"
    ) == 1
