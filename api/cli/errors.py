"""Exit codes, in one place.

0  success (for `lookup`: permitted, or a verified recipient when no classification was asked)
1  a lookup's answer is "no"
2  bad input or bad configuration: nothing was changed
3  the directory cannot answer now (fail closed: never 0)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import typer
from rich.console import Console

from directory.errors import DirectoryError, ErrorKind

OK, NO, BAD_INPUT, UNAVAILABLE = 0, 1, 2, 3
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
stderr = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def translated(func: F) -> F:
    """Turn the directory's errors into a message on stderr and an exit code."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except DirectoryError as exc:
            raise fail(exc.detail, EXIT.get(exc.kind, UNAVAILABLE)) from None
        except Exception as exc:  # pki errors and anything unexpected: never a success
            kind = getattr(exc, "kind", None)
            if kind in ("malformed", "weak-key", "lint-failed", "not-found", "conflict"):
                raise fail(str(getattr(exc, "detail", exc)), BAD_INPUT) from None
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise typer.Exit(UNAVAILABLE) from None

    return run  # type: ignore[return-value]
