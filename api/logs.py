"""Logging at the transports' boundaries: one line per event, and a request id on every HTTP
request (`X-Request-Id`, taken from the request when it is a plain token, else made here, and
always returned), so a line in the log and a caller's report name the same request.

What is logged never holds a secret: no header values, no query strings (they hold addresses),
no request bodies. An unexpected exception is logged once, where the transport answers it.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("clearance_request_id", default=None)
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_FIELDS = ("method", "path", "status", "ms")  # extra fields an event may carry

log = logging.getLogger("clearance.http")
access = logging.getLogger("clearance.access")


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the traceback of
    an exception as one string."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            out["request_id"] = request_id
        for name in _FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


class _Ours(logging.Handler):
    """The handler `configure` installs (and replaces when called again). It writes to the
    sys.stderr of the moment, so a replaced stream (a test's capture) is never written after it
    has closed."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_plain_records = logging.getLogRecordFactory()


def _stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record carries the request id of the request it was made in (None outside one)."""
    record = _plain_records(*args, **kwargs)
    record.request_id = REQUEST_ID.get()
    return record


def configure(level: str, *, structured: bool = True) -> None:
    """Log at `level` (debug, info, warning, error) to stderr: JSON lines for the servers, plain
    lines for the CLI."""
    logging.setLogRecordFactory(_stamped)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(handler)
    handler = _Ours()
    handler.setFormatter(
        JsonLines() if structured else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())


_PREFIX = secrets.token_hex(6)  # per process: ids are unique across workers and restarts
_NEXT = itertools.count(1)


def request_id(given: str | None) -> str:
    """The caller's id when it is a plain token, else a new one (a random per-process prefix
    and a counter: cheaper than a UUID on every request, and as unique)."""
    if given is not None and _GIVEN_ID.fullmatch(given):
        return given
    return f"{_PREFIX}{next(_NEXT):08x}"


class BodyTooLarge(HTTPException):
    """Raised by the request's receive channel once a body passes its route's limit. An
    HTTPException, so that FastAPI passes it on as it is (it turns other errors met while
    reading a body into 400) and api/problems.py answers it 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")
        self.limit = limit


class BodyLimits:
    """The most bytes a request body may have, by path prefix (first match), else `default`:
    checked against Content-Length before anything is read, and while a body is read, before
    any parsing or authentication."""

    def __init__(self, default: int, by_prefix: tuple[tuple[str, int], ...] = ()) -> None:
        self.default = default
        self.by_prefix = by_prefix

    def limit(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default


class RequestIds:
    """ASGI middleware at the HTTP boundary: the request id, body limits (413), the access log
    (when on), and the one place where an exception no handler answered is logged and becomes
    a 500 problem document."""

    def __init__(
        self, app: ASGIApp, access_log: bool = False, body_limits: BodyLimits | None = None
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.body_limits = body_limits or BodyLimits(64 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = request_id(given)
        header = (b"x-request-id", rid.encode())
        limit = self.body_limits.limit(scope["path"])
        declared = _content_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        token = REQUEST_ID.set(rid)
        started = time.perf_counter() if self.access_log else 0.0
        sent: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent.append(message["status"])
                headers = message.get("headers")
                if isinstance(headers, list):  # a response's own list: append in place
                    headers.append(header)
                else:
                    message = {**message, "headers": [*(headers or ()), header]}
            await send(message)

        try:
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not sent:
                from api.problems import too_large

                await too_large(limit, scope["path"])(scope, receive, send_with_id)
            sent.append(413)
        except Exception:
            log.exception(
                "%s %s failed", scope["method"], scope["path"], extra=_event(scope, 500, None)
            )
            if not sent:
                from api.problems import internal_error  # the one place for problem documents

                await internal_error(scope["path"])(scope, receive, send_with_id)
            sent.append(500)
        finally:
            if self.access_log:
                ms = round((time.perf_counter() - started) * 1000, 2)
                status = sent[0] if sent else 500
                access.info(
                    "%s %s %d", scope["method"], scope["path"], status,
                    extra=_event(scope, status, ms),
                )  # fmt: skip
            REQUEST_ID.reset(token)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _event(scope: Scope, status: int, ms: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": scope["method"], "path": scope["path"], "status": status}
    if ms is not None:
        out["ms"] = ms
    return out
