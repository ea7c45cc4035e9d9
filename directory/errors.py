"""The one error type of the directory package.

A `DirectoryError` carries a kind (what went wrong, for the transports to translate) and a detail
(one human sentence). Transports translate kinds in one place each: HTTP problem+json in
`api/problems.py`, CLI exit codes in `api/cli/errors.py`. Exceptions never log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    MALFORMED = "malformed"  # bad input from the caller
    NOT_FOUND = "not-found"
    CONFLICT = "conflict"  # already exists, or the state forbids the change
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    CONFIG = "config"  # a configuration file or setting is wrong
    UNAVAILABLE = "unavailable"  # the store or a dependency cannot answer now
    INTERNAL = "internal"


class DirectoryError(Exception):
    def __init__(self, kind: ErrorKind, detail: str, **extra: Any) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.extra = extra


def malformed(detail: str, **extra: Any) -> DirectoryError:
    return DirectoryError(ErrorKind.MALFORMED, detail, **extra)


def not_found(detail: str) -> DirectoryError:
    return DirectoryError(ErrorKind.NOT_FOUND, detail)


def conflict(detail: str) -> DirectoryError:
    return DirectoryError(ErrorKind.CONFLICT, detail)


def forbidden(detail: str) -> DirectoryError:
    return DirectoryError(ErrorKind.FORBIDDEN, detail)
