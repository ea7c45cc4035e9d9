"""The HTTP boundary, as one ASGI middleware around the API: the request id (`X-Request-Id`,
taken from the request when it is a plain token, else made here, always returned), request body
limits per route (413 before parsing or authentication), the access log when on, and the one
place where an exception no handler answered is logged and becomes a 500 problem document."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import REQUEST_ID

_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
log = logging.getLogger("clearance.http")
access = logging.getLogger("clearance.access")

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


class Boundary:
    """The middleware (see the module's docstring)."""

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
