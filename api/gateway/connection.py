"""What the policy and socketmap servers share: a tracked connection answering queued requests
in order, one at a time (Postfix sends one request and waits for its answer), with bounds a
broken or hostile peer cannot push past (docs/gateway.md, "Limits"):

- at most `max_pending` requests wait per connection: reading pauses while that many wait and
  resumes when half have been answered, so a peer that pipelines without reading costs one
  read's worth of memory, not what it sends;
- while the peer does not read its replies (the transport calls pause_writing), no further
  request is answered and reading pauses too;
- the server's sweeper closes a connection whose request was begun but not finished within
  `request_timeout`, or which has been idle for `idle_timeout`;
- a worker accepts at most `max_connections`; one more is closed at once (logged once while
  the cap holds).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

Request = TypeVar("Request")
log = logging.getLogger("clearance.gateway")


@dataclass(frozen=True)
class ConnectionLimits:
    max_pending: int = 64
    request_timeout: float = 10.0
    idle_timeout: float = 330.0
    max_connections: int = 2000


class _Reader(Protocol):
    @property
    def pending(self) -> int: ...


class Connections:
    """One worker's open connections, its limits, and the sweeper that applies the timeouts."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: set[QueuedConnection[object]] = set()
        self.refused = 0
        self._refusing = False

    def admit(self, connection: QueuedConnection[object]) -> bool:
        if len(self.open) >= self.limits.max_connections:
            self.refused += 1
            if not self._refusing:
                self._refusing = True
                log.warning(
                    "connection cap reached (%d per worker): new connections are closed at once",
                    self.limits.max_connections,
                )
            return False
        if self._refusing and len(self.open) < self.limits.max_connections * 0.9:
            self._refusing = False
            log.warning("below the connection cap again (%d refused)", self.refused)
        self.open.add(connection)
        return True

    def sweep(self, now: float) -> int:
        """Close what has timed out; the number closed."""
        closed = 0
        limits = self.limits
        for connection in list(self.open):
            if (
                connection.reader.pending
                and now - connection.partial_since > limits.request_timeout
            ) or (connection.idle and now - connection.last_active > limits.idle_timeout):
                connection.close()
                closed += 1
        return closed

    async def sweep_forever(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(1.0, self.limits.request_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep(loop.time())

    def close_all(self) -> None:
        for connection in list(self.open):
            connection.close()


class QueuedConnection(asyncio.Protocol, Generic[Request]):
    reader: _Reader  # each server's: splits the bytes into requests
    _handle: Callable[[Request], None]  # each server's: answers one request

    def __init__(self, connections: Connections) -> None:
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.queued: deque[Request] = deque()
        self.busy = False
        self.reading_paused = False
        self.writing_paused = False
        self.last_active = 0.0
        self.partial_since = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- life cycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if not self.connections.admit(cast("QueuedConnection[object]", self)):
            self.transport.abort()
            self.transport = None
            return
        self._loop = asyncio.get_running_loop()
        self.last_active = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.open.discard(cast("QueuedConnection[object]", self))
        self.transport = None
        self.queued.clear()

    def close(self) -> None:
        """Close now, dropping unsent replies: a peer that timed out, or one that does not read,
        would otherwise keep a closing connection (and its buffer) open indefinitely."""
        if self.transport is not None:
            self.transport.abort()

    @property
    def idle(self) -> bool:
        return not self.busy and not self.queued and not self.reader.pending

    # --- flow control -------------------------------------------------------------------------
    def received(self, requests: list[Request]) -> None:
        """Queue what one read brought, note a request left unfinished, and stop reading while
        the queue is full."""
        assert self._loop is not None
        now = self.last_active = self._loop.time()
        if not self.reader.pending:
            self.partial_since = 0.0
        elif not self.partial_since:
            self.partial_since = now
        self.queued.extend(requests)
        if len(self.queued) >= self.connections.limits.max_pending:
            self._pause_reading()
        self._next()

    def pause_writing(self) -> None:  # the peer does not read its replies
        self.writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._next()

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            self.reading_paused
            and not self.writing_paused
            and self.transport is not None
            and len(self.queued) <= self.connections.limits.max_pending // 2
        ):
            self.reading_paused = False
            self.transport.resume_reading()

    def _next(self) -> None:
        while self.queued and not self.busy and not self.writing_paused and self.transport:
            self._handle(self.queued.popleft())
        if self.reading_paused:
            self._maybe_resume_reading()

    def write(self, data: bytes) -> None:
        # (idle time counts from the peer's last bytes: a reply is not activity of its own)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
