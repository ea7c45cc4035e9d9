"""RFC 9457 problem+json: the one place where errors become HTTP responses.

Internal errors lose their detail on the way out. A failure never turns into a "yes": an error
during a lookup is a 5xx (the gateway defers), never a permitted answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from directory.errors import DirectoryError, ErrorKind
from pki.errors import PkiError, PkiErrorKind

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("clearance.http")

# Every kind of both packages, exhaustively (tests/api/test_error_tables.py checks it).
STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.CONFIG: 500,
    ErrorKind.INTERNAL: 500,
}
TITLES: dict[ErrorKind, str] = {
    ErrorKind.MALFORMED: "Bad request",
    ErrorKind.UNAUTHENTICATED: "Authentication required",
    ErrorKind.FORBIDDEN: "Forbidden",
    ErrorKind.NOT_FOUND: "Not found",
    ErrorKind.CONFLICT: "Conflict",
    ErrorKind.UNAVAILABLE: "Directory unavailable",
    ErrorKind.CONFIG: "Internal error",
    ErrorKind.INTERNAL: "Internal error",
}
HIDDEN = {ErrorKind.CONFIG, ErrorKind.INTERNAL}


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    instance: str | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:clearance:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="clearance"'
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(json.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_directory_error(exc: DirectoryError, path: str | None = None) -> Response:
    status = STATUS[exc.kind]
    if exc.kind in HIDDEN:  # ours, not the caller's: logged here (the detail stays in the log)
        log.error("%s: %s", exc.kind.value, exc.detail)
    elif exc.kind is ErrorKind.UNAVAILABLE:
        log.warning("unavailable: %s", exc.detail)
    detail = "The directory could not complete the request." if exc.kind in HIDDEN else exc.detail
    extra = {} if exc.kind in HIDDEN else {k: v for k, v in exc.extra.items() if _plain(v)}
    return problem(status, exc.kind.value, TITLES[exc.kind], detail, path, **extra)


# Every pki kind; None: a fault of ours (a wrong CA passphrase is the operator's configuration,
# not the caller's), answered 500 without detail.
PKI_STATUS: dict[PkiErrorKind, int | None] = {
    PkiErrorKind.MALFORMED: 400,
    PkiErrorKind.WEAK_KEY: 400,
    PkiErrorKind.UNSUPPORTED_KEY: 400,
    PkiErrorKind.LINT_FAILED: 422,
    PkiErrorKind.NOT_FOUND: 404,
    PkiErrorKind.CONFLICT: 409,
    PkiErrorKind.UNAUTHORIZED: None,
    PkiErrorKind.INTERNAL: None,
}


def from_pki_error(exc: PkiError, path: str | None = None) -> Response:
    status = PKI_STATUS[exc.kind]
    if status is None:
        log.error("CA %s: %s", exc.kind.value, exc.detail)
        return internal_error(path)
    extra: dict[str, Any] = {}
    if exc.findings:
        extra["findings"] = [str(f) for f in exc.findings]
    return problem(status, exc.kind, "Certificate request refused", exc.detail, path, **extra)


def _plain(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def install(app: FastAPI) -> None:
    @app.exception_handler(DirectoryError)
    async def _directory_error(request: Request, exc: DirectoryError) -> Response:
        return from_directory_error(exc, request.url.path)

    @app.exception_handler(PkiError)
    async def _pki_error(request: Request, exc: PkiError) -> Response:
        return from_pki_error(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "location": ".".join(str(p) for p in err.get("loc", ())),
                "message": str(err.get("msg", "invalid")),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        detail = f"{first['location']}: {first['message']}"
        return problem(422, "malformed", "Invalid request", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:  # api/boundary.py BodyTooLarge, met while the body was read
            return too_large(getattr(exc, "limit", 0), request.url.path)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, kind, str(exc.detail), str(exc.detail), request.url.path)

    # Any other exception is logged and answered by api/boundary.py (internal_error):
    # once, with the request id, whatever raised it.


def too_large(limit: int, path: str | None = None) -> Response:
    """413: the body passed this route's limit (read no further; nothing was done)."""
    response = problem(
        413, "too-large", "Request body too large",
        f"The request body is larger than {limit} bytes.", path, limit=limit,
    )  # fmt: skip
    response.headers["connection"] = "close"
    return response


def internal_error(path: str | None = None) -> Response:
    return problem(
        500, "internal", "Internal error", "The directory could not complete the request.", path
    )
