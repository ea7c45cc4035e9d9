"""Logging for the servers and the CLI: one line per event (JSON lines from the servers), each
record stamped with the request id of the HTTP request it was made in (api/boundary.py sets it).

What is logged never holds a secret: no header values, no query strings (they hold addresses),
no request bodies. An unexpected exception is logged once, where the transport answers it.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("clearance_request_id", default=None)
_FIELDS = ("method", "path", "status", "ms")  # extra fields an event may carry


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
