"""What every command needs: the directory, the operator, and output helpers."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from api import logs
from api.serialise import plain
from directory.address import normalise_domain
from directory.authz import Principal
from directory.errors import DirectoryError, malformed, not_found

if TYPE_CHECKING:
    from directory.model import Organisation
    from directory.service import Directory

# On a terminal, tables fit its width; anywhere else (a pipe, a file, a script) every value is
# printed in full, never cut at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=100_000, soft_wrap=True)


def open_directory(*, check: bool = True, serving: bool = False) -> Directory:
    """`serving`: for a long-running command (see Directory).

    The directory (SQLAlchemy, settings, the store) is imported here, by the commands that open
    it, so that `clearance --help` and the commands that do not start without it."""
    from directory.service import Directory
    from directory.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level, structured=serving)
    directory = Directory(settings, serving=serving)
    if check:
        directory.check_schema()
    return directory


def operator() -> Principal:
    """The local operator: whoever can run the CLI on the directory's host administers it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(f"cli:{user}", frozenset({"directory-admin"}))


def find_organisation(directory: Directory, ref: str) -> Organisation:
    """An organisation by id, exact name (case-insensitive) or one of its domains."""
    org = directory.store.organisation(ref)
    if org is not None:
        return org
    orgs = directory.registration.organisations(operator())
    matches = [o for o in orgs if o.name.lower() == ref.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise malformed(f"{len(matches)} organisations are named {ref!r}; give the id")
    try:
        domain = directory.store.domain_by_name(normalise_domain(ref))
    except DirectoryError:
        domain = None
    if domain is not None:
        found = directory.store.organisation(domain.organisation_id)
        if found is not None:
            return found
    raise not_found(f"no organisation {ref!r} (give an id, a name or one of its domains)")


def parse_time(value: str, field: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise malformed(f"{field}: {value!r} is not a date or an ISO 8601 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def emit_json(value: Any) -> None:
    print(json.dumps(plain(value), indent=2, sort_keys=False))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    console.print(out)


def record(title: str, value: Any) -> None:
    data = plain(value)
    table(title, ["field", "value"], [[k, v] for k, v in data.items()])
