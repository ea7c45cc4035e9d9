"""The injected clock: a function returning an aware UTC datetime. Tests freeze it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pki.errors import PkiError, PkiErrorKind

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock (UTC)."""
    return datetime.now(UTC)


def now_seconds(clock: Clock) -> datetime:
    """The clock's time in UTC, truncated to whole seconds (certificates carry no fractions)."""
    value = clock()
    if value.tzinfo is None:
        raise PkiError(PkiErrorKind.INTERNAL, "the clock must return an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)
