"""Exit codes, in one place.

0  success (for `lookup`: permitted, or a verified recipient when no classification was asked)
1  a lookup's answer is "no"
2  bad input or bad configuration: nothing was changed
3  the directory cannot answer now (fail closed: never 0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import typer
from rich.console import Console

from directory.errors import DirectoryError, ErrorKind
from pki.errors import PkiError, PkiErrorKind

OK, NO, BAD_INPUT, UNAVAILABLE = 0, 1, 2, 3
# Every kind of both packages, exhaustively (tests/api/test_error_tables.py checks it).
EXIT: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: BAD_INPUT,
    ErrorKind.NOT_FOUND: BAD_INPUT,
    ErrorKind.CONFLICT: BAD_INPUT,
    ErrorKind.FORBIDDEN: BAD_INPUT,
    ErrorKind.UNAUTHENTICATED: BAD_INPUT,
    ErrorKind.CONFIG: BAD_INPUT,
    ErrorKind.UNAVAILABLE: UNAVAILABLE,
    ErrorKind.INTERNAL: UNAVAILABLE,
}
PKI_EXIT: dict[PkiErrorKind, int] = {
    PkiErrorKind.MALFORMED: BAD_INPUT,
    PkiErrorKind.WEAK_KEY: BAD_INPUT,
    PkiErrorKind.UNSUPPORTED_KEY: BAD_INPUT,
    PkiErrorKind.LINT_FAILED: BAD_INPUT,
    PkiErrorKind.NOT_FOUND: BAD_INPUT,
    PkiErrorKind.CONFLICT: BAD_INPUT,
    PkiErrorKind.UNAUTHORIZED: BAD_INPUT,  # a wrong CA passphrase: bad configuration
    PkiErrorKind.INTERNAL: UNAVAILABLE,
}
stderr = Console(stderr=True)
log = logging.getLogger("clearance.cli")
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def translated(func: F) -> F:
    """Turn the directory's and the CA's errors into a message on stderr and an exit code; an
    unexpected exception is logged once, here, and exits 3 (never a success)."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except DirectoryError as exc:
            raise fail(exc.detail, EXIT[exc.kind]) from None
        except PkiError as exc:
            if exc.kind is PkiErrorKind.INTERNAL:
                log.error("%s failed: %s", func.__name__, exc.detail)
                raise fail("the CA could not complete the request", UNAVAILABLE) from None
            raise fail(exc.detail, PKI_EXIT[exc.kind]) from None
        except Exception:
            log.exception("%s failed", func.__name__)
            raise fail(
                "an unexpected error (logged); the command did not complete", UNAVAILABLE
            ) from None

    return run  # type: ignore[return-value]
