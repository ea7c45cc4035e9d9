"""The lookup's hot path: mailbox entries (and their live certificates) by address.

Mailbox rows are read from the store whenever a lookup is not answered from the per-process
answer cache (directory/snapshot.py AnswerCache), which every write transaction invalidates:
adding, removing or revoking shows within `cache_refresh_seconds`. It bypasses the SQL
expression layer for speed: one plain parameterised statement on a DBAPI connection and cursor
kept per thread.

PostgreSQL connections run in autocommit. On SQLite a statement outside a transaction takes and
drops a read lock on the WAL index each time, which costs as much as the search itself; so each
thread's connection keeps one read transaction open between lookups and starts a new one when
`renew()` has been called since (the lookup calls it whenever it reads the change sequence, at
most every `cache_refresh_seconds`; every write through DirectoryStore.write calls it too). A
transaction left idle for a second is ended by a sweeper thread, so that an idle worker never
keeps the WAL from being checkpointed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from directory.errors import DirectoryError, ErrorKind

# only what an answer needs: whether the mailbox is verified, not when (no date to parse)
_COLUMNS = (
    "r.address, r.role, r.mailbox_verified_at IS NOT NULL, r.display_name, "
    "c.serial, c.not_before, c.not_after, c.der"
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
    role: str
    mailbox_verified: bool
    display_name: str | None
    certificates: list[LiveCertificate]


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


IDLE_SECONDS = 1.0  # an SQLite read transaction unused this long is ended by the sweeper


class _Reader:
    """One thread's connection and cursor, and on SQLite its read transaction."""

    __slots__ = ("conn", "cursor", "driver", "epoch", "lock", "used")

    def __init__(self, conn: Any, driver: Any) -> None:
        self.conn = conn  # SQLAlchemy's wrapper: closing it closes the driver connection
        self.driver = driver
        self.cursor = driver.cursor()
        self.lock = threading.Lock()  # the owning thread and the sweeper
        self.epoch = -1
        self.used = -math.inf  # time.monotonic() of its last use: none yet


class MailboxFinder:
    def __init__(self, engine: Engine, *, from_clause: str = _FROM) -> None:
        """`from_clause` ends with the address column, to be compared (a mirror's differs)."""
        self.engine = engine
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.marker = marker
        self._from = from_clause
        self._one_sql = f"SELECT {_COLUMNS} {from_clause}= {marker}"
        self._many_sql = f"SELECT {_COLUMNS} {from_clause}= ANY({marker})"
        self._hold = engine.dialect.name == "sqlite"
        self._array = engine.dialect.name == "postgresql"
        self.epoch = 0  # bumped by renew(): held read transactions start again
        self._local = threading.local()
        self._lock = threading.Lock()
        self._readers: set[_Reader] = set()  # every thread's, to sweep and close them all
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def renew(self, seq: int | None = None) -> None:
        """From now on, read what has been committed so far (see the module docstring). `seq`,
        the change sequence the caller has just read, matters only to a mirror's reads."""
        self.epoch += 1

    def _reader(self) -> _Reader:
        conn = self.engine.raw_connection()
        driver = conn.driver_connection
        if self.engine.dialect.name == "postgresql":
            # never back to the pool in autocommit, where a write transaction could get it
            conn.detach()
            driver.autocommit = True  # type: ignore[union-attr]
        reader = self._local.reader = _Reader(conn, driver)
        with self._lock:
            self._readers.add(reader)
            if self._hold and self._sweeper is None:
                self._stop.clear()
                self._sweeper = threading.Thread(
                    target=self._sweep, name="clearance-sqlite-sweeper", daemon=True
                )
                self._sweeper.start()
        return reader

    def _sweep(self) -> None:
        while not self._stop.wait(IDLE_SECONDS / 2):
            with self._lock:
                readers = list(self._readers)
            for reader in readers:
                if not reader.lock.acquire(blocking=False):
                    continue  # in use: not idle
                try:
                    if reader.driver.in_transaction and (
                        time.monotonic() - reader.used > IDLE_SECONDS
                    ):
                        reader.driver.rollback()  # read-only: ending it is all there is
                except Exception:
                    pass
                finally:
                    reader.lock.release()

    def _discard(self) -> None:
        """Drop this thread's connection (after an error: the next lookup reconnects)."""
        reader = getattr(self._local, "reader", None)
        self._local.reader = None
        if reader is not None:
            with self._lock:
                self._readers.discard(reader)
            with reader.lock:
                reader.conn.close()

    def close(self) -> None:
        """Close every thread's connection (the store is closing)."""
        self._local.reader = None
        with self._lock:
            readers, self._readers = self._readers, set()
            sweeper, self._sweeper = self._sweeper, None
        self._stop.set()
        if sweeper is not None:
            sweeper.join()
        for reader in readers:
            with reader.lock:
                reader.conn.close()

    def find_one(self, address: str) -> MailboxRow | None:
        fetched = self._fetch(self._one_sql, (address,))
        if not fetched:
            return None
        row = fetched[0]
        if len(fetched) == 1 and row[4] is None:  # the common case: no live certificate
            return MailboxRow(row[0], row[1], bool(row[2]), row[3], [])
        return _rows(fetched).get(address)

    def find(self, addresses: Sequence[str]) -> dict[str, MailboxRow]:
        if not addresses:
            return {}
        unique = list(dict.fromkeys(addresses))
        if len(unique) == 1:
            return _rows(self._fetch(self._one_sql, unique))
        if self._array:  # PostgreSQL: one array parameter, one statement text, prepared
            return _rows(self._fetch(self._many_sql, (unique,)))
        sql = f"SELECT {_COLUMNS} {self._from}IN ({', '.join([self.marker] * len(unique))})"
        return _rows(self._fetch(sql, unique))

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run one statement; any driver error means the directory cannot answer (fail closed).

        psycopg prepares a statement on the server after a few executions; sqlite3 keeps a
        per-connection statement cache: both make the repeated single lookup cheap."""
        reader = getattr(self._local, "reader", None)
        try:
            if reader is None:
                reader = self._reader()
            if not self._hold:
                reader.cursor.execute(sql, params)
                rows: list[Any] = reader.cursor.fetchall()
                return rows
            with reader.lock:
                driver = reader.driver
                if reader.epoch != self.epoch or not driver.in_transaction:
                    if driver.in_transaction:
                        driver.rollback()
                    reader.epoch = self.epoch
                    driver.execute("BEGIN")
                reader.cursor.execute(sql, params)
                reader.used = time.monotonic()
                found: list[Any] = reader.cursor.fetchall()
                return found
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
            entry = found[row[0]] = MailboxRow(row[0], row[1], bool(row[2]), row[3], [])
        if row[4] is not None:
            entry.certificates.append(
                LiveCertificate(row[4], _when(row[5]), _when(row[6]), bytes(row[7]))  # type: ignore[arg-type]
            )
    return found
