"""uvicorn's httptools protocol with the limits it does not have: the request head's size and
header count, and timeouts for a slow head and a stalled body (`clearance serve` uses it).

uvicorn limits connections and tasks per worker (`limit_concurrency`: 503 beyond) and closes
an idle keep-alive connection after `timeout_keep_alive`; bodies are limited per route as they
are read (api/boundary.py, 413). What it leaves open, and this class closes:

- a request head (request line and headers) larger than MAX_HEAD_BYTES, or with more than
  MAX_HEADERS header fields: 431, connection closed. llhttp keeps a header it is still reading
  in memory, so the bytes are counted as they arrive (a head that never ends is refused once
  it passes the limit, holding at most the limit and one read);
- a head not complete HEAD_TIMEOUT seconds after its first byte, or after the connection was
  made (a connection that never sends anything, which uvicorn keeps open): 408, closed;
- after a refusal, a lingering close (LINGER_*), so the client reads the reply;
- a body that has not sent a byte for BODY_TIMEOUT seconds while the server is reading it:
  closed (the application sees the client disconnect). Time while reading is paused because
  the application has not taken the body yet does not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import problem

MAX_HEAD_BYTES = 32 * 1024  # as nginx's large_client_header_buffers (4 x 8k)
MAX_HEADERS = 100  # as Python's http.client; a browser or sharing tool sends about 20
HEAD_TIMEOUT = 10.0  # seconds for a whole request head (Go servers' usual ReadHeaderTimeout)
BODY_TIMEOUT = 30.0  # seconds between two reads of a body (nginx's client_body_timeout: 60)
# After a refusal the reply is sent and our side shut for writing; what the client still sends
# is read and dropped for up to this long and this much (as nginx's lingering close), so that
# closing with unread data (a reset) does not destroy the reply before the client reads it.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    max_headers = MAX_HEADERS
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request head (or waiting for the first request)
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._linger = LINGER_BYTES
        # one deadline at a time (head, body or linger); the timer may fire early and look again
        self._deadline: float | None = None
        self._on_deadline: Callable[[], object] = self._head_too_slow
        self._timer: asyncio.TimerHandle | None = None

    # --- the connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # lingering: dropped, up to a bound
            self._linger -= len(data)
            if self._linger < 0:
                self.transport.close()
            return
        if self._in_head:
            if self._head_bytes == 0:  # a new head's first bytes: it has HEAD_TIMEOUT
                self._arm(self.head_timeout, self._head_too_slow)
            self._head_bytes += len(data)
        elif self._deadline is not None:  # a body: a byte came, the stall clock starts again
            self._arm(self.body_timeout, self._body_stalled)
        # uvicorn's data_received, except that a refusal from a callback is not also a 400
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if not self._refused:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if not self._refused and self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "head-too-large", "The request head is too large.")

    # --- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._header_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refuse(431, "head-too-large", "The request has too many header fields.")
            raise httptools.HttpParserError("refused")  # stops the parser; the reply is sent
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._arm(self.body_timeout, self._body_stalled)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        super().on_message_complete()

    # --- timers ---------------------------------------------------------------------------
    def _arm(self, delay: float, callback: Callable[[], object]) -> None:
        """The deadline is now + delay. Cheap on the path of every request: a timer is made
        only when none is pending or the pending one would fire after the new deadline."""
        deadline = self.loop.time() + delay
        self._deadline = deadline
        self._on_deadline = callback
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return  # it fires first and looks again
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._check)

    def _disarm(self) -> None:
        self._deadline = None  # a pending timer finds nothing to do

    def _check(self) -> None:
        self._timer = None
        if self._deadline is None:
            return
        if self._deadline > self.loop.time():
            self._timer = self.loop.call_at(self._deadline, self._check)
            return
        self._deadline = None
        self._on_deadline()

    def _head_too_slow(self) -> None:
        waiting = self._in_head and not self.transport.is_closing()
        if waiting and (self._head_bytes or self.cycle is None):
            self._refuse(408, "request-timeout", "The request head did not arrive in time.")

    def _body_stalled(self) -> None:
        if self._in_head or self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:  # waiting for the application
            self._arm(self.body_timeout, self._body_stalled)
            return
        self.transport.close()

    def _refuse(self, status: int, kind: str, detail: str) -> None:
        """A problem+json reply (api/problems.py makes it), then close: nothing of the request
        reaches the application."""
        self._refused = True
        self._disarm()
        title = STATUS_LINE[status].decode().split(" ", 2)[2].strip()
        body = bytes(problem(status, kind, title, detail).body)
        self.transport.write(
            STATUS_LINE[status]
            + b"content-type: application/problem+json\r\n"
            + b"content-length: %d\r\n" % len(body)
            + b"connection: close\r\n\r\n"
            + body
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._arm(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
