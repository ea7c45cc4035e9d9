"""The lookup's hot path: mailbox entries (and their live certificates) by address.

Mailbox rows are read from the store whenever a lookup is not answered from the per-process
answer cache (directory/snapshot.py AnswerCache), which every write transaction invalidates:
adding, removing or revoking shows within `cache_refresh_seconds`. It bypasses the SQL
expression layer for speed: one plain parameterised statement on a DBAPI connection kept per
thread, in autocommit mode.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from directory.errors import DirectoryError, ErrorKind

_COLUMNS = (
    "r.address, r.id, r.organisation_id, r.domain_id, r.role, r.mailbox_verified_at, "
    "r.display_name, c.serial, c.not_before, c.not_after, c.der"
)
_FROM = (
    "FROM recipients r LEFT JOIN certificates c ON c.recipient_id = r.id "
    "AND c.revoked_at IS NULL AND c.der IS NOT NULL "
    "WHERE r.status = 'active' AND r.kind = 'mailbox' AND r.address "
)


@dataclass(frozen=True, slots=True)
class LiveCertificate:
    serial: str
    not_before: datetime
    not_after: datetime
    der: bytes


@dataclass(slots=True)
class MailboxRow:
    address: str
    id: str
    organisation_id: str
    domain_id: str
    role: str
    mailbox_verified_at: datetime | None
    display_name: str | None
    certificates: list[LiveCertificate]


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MailboxFinder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.marker = marker
        self._one_sql = f"SELECT {_COLUMNS} {_FROM}= {marker}"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Any] = set()  # every thread's connection, to close them all

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.raw_connection()
            if self.engine.dialect.name == "postgresql":
                # never back to the pool in autocommit, where a write transaction could get it
                driver = conn.driver_connection
                conn.detach()
                driver.autocommit = True  # type: ignore[union-attr]
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _discard(self) -> None:
        """Drop this thread's connection (after an error: the next lookup reconnects)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def close(self) -> None:
        """Close every thread's connection (the store is closing)."""
        self._local.conn = None
        with self._lock:
            open_now, self._open = self._open, set()
        for conn in open_now:
            conn.close()

    def find_one(self, address: str) -> MailboxRow | None:
        return _rows(self._fetch(self._one_sql, (address,))).get(address)

    def find(self, addresses: Sequence[str]) -> dict[str, MailboxRow]:
        if not addresses:
            return {}
        unique = list(dict.fromkeys(addresses))
        if len(unique) == 1:
            return _rows(self._fetch(self._one_sql, unique))
        sql = f"SELECT {_COLUMNS} {_FROM}IN ({', '.join([self.marker] * len(unique))})"
        return _rows(self._fetch(sql, unique))

    def _fetch(self, sql: str, params: Sequence[str]) -> list[Any]:
        """Run one statement; any driver error means the directory cannot answer (fail closed).

        psycopg prepares a statement on the server after a few executions; sqlite3 keeps a
        per-connection statement cache: both make the repeated single lookup cheap."""
        try:
            cursor = self._connection().cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except Exception as exc:
            self._discard()
            raise DirectoryError(
                ErrorKind.UNAVAILABLE, "the directory store cannot answer"
            ) from exc


def _rows(fetched: list[Any]) -> dict[str, MailboxRow]:
    found: dict[str, MailboxRow] = {}
    for row in fetched:
        entry = found.get(row[0])
        if entry is None:
            entry = found[row[0]] = MailboxRow(
                row[0], row[1], row[2], row[3], row[4], _when(row[5]), row[6], []
            )
        if row[7] is not None:
            entry.certificates.append(
                LiveCertificate(row[7], _when(row[8]), _when(row[9]), bytes(row[10]))  # type: ignore[arg-type]
            )
    return found
