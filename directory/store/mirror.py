"""A local, compact copy of the mailbox entries: the only part of the register a lookup reads
from disk when its answer is not cached.

A long-running process (the API server, the gateway) keeps `<home>/lookup-mirror.db`, an SQLite
file holding only what the lookup's hot path reads: the active mailbox entries (address, role,
whether verified, name), keyed by address in one B-tree without a rowid, and their unrevoked
certificates. Organisations, domains, accreditations and the rest are small and already held in
memory (directory/snapshot.py).
- With PostgreSQL, each uncached lookup would otherwise be a round trip to the server (about
  150 µs here), which caps one core at some 6,000 lookups/s.
- With SQLite, the store's recipients table carries everything else about a recipient and is
  reached through a separate index: at 1,000,000 entries the file is 478 MiB, a lookup descends
  two B-trees, and what lies beyond the memory map (`sqlite_mmap_mib`) is read page by page.
  The copy is 108 MiB, fits the map, and a read costs 7 µs there instead of 12.

Kept current by the store's change sequence: every write transaction stamps the rows it touches
with its sequence number (`change_seq`), and writers are serialised on the state row, so the
rows changed after the mirror's sequence are exactly what it lacks. Recipients and certificates
are never deleted, only withdrawn or revoked (Writer.delete refuses them), so a change is always
a row to read. A syncer thread applies them in one SQLite write transaction, which also records
the sequence reached; the processes on one host share the file (SQLite's write lock makes one of
them do the work).

Used only when current: whenever the lookup reads the store's change sequence S (at most every
`cache_refresh_seconds`), it reads the mirror if the mirror holds S or later, and otherwise the
store itself while the syncer catches up. So the mirror never makes a change show later than
without it, and a mirror that cannot be written or read means reads from the store, never a
stale "yes". A mirror of another store (a new install) is detected by the store's instance id
(`directory_state.instance`), one of a restored store that has moved on by the audit chain (the
store's audit entry at the position the mirror recorded must still have the hash it recorded);
either is rebuilt from scratch, as is a mirror ahead of the store or of an older format.

Do not delete the file under a running server: its open connections would go on reading the
deleted copy. Stop the servers first; the next start rebuilds it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from directory.errors import DirectoryError
from directory.store import tables as t
from directory.store.engine import make_engine
from directory.store.fastpath import MailboxFinder, MailboxRow

log = logging.getLogger("clearance.mirror")

FORMAT = 3  # bump when the mirror's tables change: an older file is rebuilt
WARN_AFTER_SECONDS = 10.0  # failing this long: the operator is told (once)
PAGE = 5000  # rows per fetch and insert while copying

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mirror_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "format INTEGER NOT NULL, instance TEXT NOT NULL, seq INTEGER NOT NULL, "
    "audit_position INTEGER NOT NULL, audit_hash TEXT NOT NULL)",
    # keyed by address, without a rowid: a lookup is one descent of one B-tree
    "CREATE TABLE IF NOT EXISTS recipients (address TEXT PRIMARY KEY, id TEXT NOT NULL, "
    "role TEXT NOT NULL, mailbox_verified_at INTEGER, display_name TEXT) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS certificates (serial TEXT PRIMARY KEY, recipient_id TEXT NOT "
    "NULL, not_before TEXT NOT NULL, not_after TEXT NOT NULL, der BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_certificates_recipient_id ON certificates (recipient_id)",
)
_DROP = tuple(f"DROP TABLE IF EXISTS {n}" for n in ("mirror_state", "recipients", "certificates"))
# the same row shape as the store's (fastpath._COLUMNS): every row here is an active mailbox
# entry and every certificate unrevoked
_FROM = "FROM recipients r LEFT JOIN certificates c ON c.recipient_id = r.id WHERE r.address "
_PUT_RECIPIENT = "INSERT INTO recipients VALUES (?, ?, ?, ?, ?)"
_PUT_CERTIFICATE = "INSERT INTO certificates VALUES (?, ?, ?, ?, ?)"

_R = t.recipients
_C = t.certificates
_RECIPIENT_COLUMNS = (
    _R.c.id,
    _R.c.address,
    _R.c.role,
    _R.c.mailbox_verified_at,
    _R.c.display_name,
    _R.c.kind,
    _R.c.status,
)
_CERTIFICATE_COLUMNS = (
    _C.c.serial,
    _C.c.recipient_id,
    _C.c.not_before,
    _C.c.not_after,
    _C.c.der,
    _C.c.revoked_at,
)


class MirrorError(Exception):
    """The mirror does not match the store: it is rebuilt."""


class _Closing(Exception):
    """The process is closing: the copy under way is abandoned (rolled back)."""


class LookupMirror:
    """The mirror file, its reader (a MailboxFinder over it) and its syncer."""

    def __init__(self, source: Engine, path: Path, *, mmap_bytes: int = 0) -> None:
        self.source = source
        self.path = path
        self.engine = make_engine(f"sqlite:///{path.resolve()}", sqlite_mmap_bytes=mmap_bytes)
        self.finder = MailboxFinder(self.engine, from_clause=_FROM)
        self.seq = -1  # the sequence the mirror is known to hold (-1: not known yet)
        self.failure: BaseException | None = None  # the last sync's error, if it failed
        self._failing_since: float | None = None
        self._warned = False
        self.syncs = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- the syncer -----------------------------------------------------------------------
    def request(self) -> None:
        """Bring the mirror up to the store's sequence soon (starts the syncer the first time)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="clearance-lookup-mirror", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
                if self._warned:
                    log.warning("lookup mirror %s is current again", self.path)
                self.failure, self._failing_since, self._warned = None, None, False
            except _Closing:
                return
            except Exception as exc:  # the lookup reads the store meanwhile: nothing is lost
                self.failure = exc
                now = time.monotonic()
                if self._failing_since is None:
                    self._failing_since = now
                # a lock held a moment by another process is not news; a lasting failure is,
                # once per episode
                if not self._warned and now - self._failing_since >= WARN_AFTER_SECONDS:
                    self._warned = True
                    log.warning(
                        "lookup mirror %s cannot be brought up to date (%s: %s); lookups "
                        "read the store until it can",
                        self.path,
                        type(exc).__name__,
                        exc,
                    )
                self._stop.wait(1.0)  # then try again when asked

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.finder.close()
        self.engine.dispose()

    def sync(self) -> int:
        """Apply what the store changed since the mirror's sequence (rebuild it when it is new,
        of another format or of another database); return the sequence it now holds."""
        with self.engine.connect() as mirror:
            driver: Any = mirror.connection.driver_connection
            for statement in _SCHEMA:
                driver.execute(statement)
            driver.execute("BEGIN IMMEDIATE")  # one syncer at a time, across processes
            try:
                seq = self._sync(driver)
                driver.execute("COMMIT")
            except BaseException:
                driver.execute("ROLLBACK")
                raise
        self.syncs += 1
        self.seq = seq
        self.finder.renew()
        return seq

    def _sync(self, mirror: Any) -> int:
        try:
            held = mirror.execute(
                "SELECT format, instance, seq, audit_position, audit_hash FROM mirror_state"
            ).fetchone()
        except sqlite3.OperationalError:  # an older format's state: rebuilt below
            held = None
        with self.source.connect() as conn:
            if self.source.dialect.name == "postgresql":  # one view of the store throughout
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                state = conn.execute(
                    select(
                        t.directory_state.c.instance,
                        t.directory_state.c.seq,
                        t.directory_state.c.audit_position,
                        t.directory_state.c.audit_head,
                    )
                ).one()
                if state.instance is None:
                    raise MirrorError("the store has no instance id: run `clearance init`")
                if held is not None and _same_source(conn, held, state.instance, state.seq):
                    if held[2] == state.seq:
                        return int(state.seq)
                    try:
                        self._apply(mirror, conn, int(held[2]))
                    except MirrorError:  # drifted (an address held twice): start again
                        self._copy(mirror, conn)
                else:
                    self._copy(mirror, conn)
        mirror.execute(
            "INSERT OR REPLACE INTO mirror_state VALUES (1, ?, ?, ?, ?, ?)",
            (FORMAT, state.instance, state.seq, state.audit_position, state.audit_head),
        )
        return int(state.seq)

    def _copy(self, mirror: Any, conn: Any) -> None:
        """Everything, from scratch (one transaction: readers see the old copy until it ends)."""
        for statement in (*_DROP, *_SCHEMA):  # and in this format
            mirror.execute(statement)
        rows = conn.execution_options(yield_per=PAGE).execute(
            select(*_RECIPIENT_COLUMNS[:5]).where(_R.c.status == "active", _R.c.kind == "mailbox")
        )
        for page in rows.partitions():
            self._check_stop()
            mirror.executemany(_PUT_RECIPIENT, [_recipient(row) for row in page])
        certificates = conn.execution_options(yield_per=PAGE).execute(
            select(*_CERTIFICATE_COLUMNS[:5]).where(
                _C.c.revoked_at.is_(None), _C.c.der.is_not(None), _C.c.recipient_id.is_not(None)
            )
        )
        for page in certificates.partitions():
            self._check_stop()
            mirror.executemany(_PUT_CERTIFICATE, [_certificate(row) for row in page])

    def _apply(self, mirror: Any, conn: Any, since: int) -> None:
        """The rows changed after `since`: each replaces its old copy, or removes it."""
        changed = conn.execute(select(*_RECIPIENT_COLUMNS).where(_R.c.change_seq > since)).all()
        gone = [(r.address, r.id) for r in changed if r.address]  # addresses never change
        mirror.executemany("DELETE FROM recipients WHERE address = ? AND id = ?", gone)
        live = [r for r in changed if r.status == "active" and r.kind == "mailbox" and r.address]
        _insert(mirror, _PUT_RECIPIENT, [_recipient(r) for r in live])
        certs = conn.execute(select(*_CERTIFICATE_COLUMNS).where(_C.c.change_seq > since)).all()
        revoked = [(c.serial,) for c in certs]
        mirror.executemany("DELETE FROM certificates WHERE serial = ?", revoked)
        live_certs = [
            c for c in certs if c.revoked_at is None and c.der is not None and c.recipient_id
        ]
        _insert(mirror, _PUT_CERTIFICATE, [_certificate(c) for c in live_certs])

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Closing()


class MirroredFinder:
    """The lookup's mailbox reads: from the mirror when it holds the sequence the lookup's
    answers stand for, else from the store (see the module docstring)."""

    def __init__(self, store_finder: MailboxFinder, mirror: LookupMirror) -> None:
        self.store_finder = store_finder
        self.mirror = mirror
        self._current = store_finder  # until the mirror is known to be current

    def renew(self, seq: int | None = None) -> None:
        """From now on, read what has been committed up to `seq` (None: everything so far, as
        after a write in this process, which the mirror may not hold yet)."""
        self.store_finder.renew()
        if seq is not None and 0 <= seq <= self.mirror.seq:
            self.mirror.finder.renew()
            self._current = self.mirror.finder
            return
        self._current = self.store_finder
        self.mirror.request()

    @property
    def reading_mirror(self) -> bool:
        return self._current is self.mirror.finder

    def find_one(self, address: str) -> MailboxRow | None:
        current = self._current
        if current is not self.store_finder:
            try:
                return current.find_one(address)
            except DirectoryError:
                self._mirror_failed()
        return self.store_finder.find_one(address)

    def find(self, addresses: Sequence[str]) -> dict[str, MailboxRow]:
        current = self._current
        if current is not self.store_finder:
            try:
                return current.find(addresses)
            except DirectoryError:
                self._mirror_failed()
        return self.store_finder.find(addresses)

    def _mirror_failed(self) -> None:
        """The mirror cannot be read: the store answers until a sync has succeeded again."""
        self._current = self.store_finder
        self.mirror.seq = -1
        self.mirror.request()

    def close(self) -> None:
        self.mirror.close()
        self.store_finder.close()


def _same_source(conn: Any, held: Sequence[Any], instance: str, seq: int) -> bool:
    """Is the mirror of this store (its instance id; and when the mirror recorded an audit
    entry, that entry is still there with the same hash: not a restored older copy that has
    since moved on), in this format, and not ahead of it?"""
    fmt, held_instance, held_seq, position, digest = held
    if fmt != FORMAT or held_instance != instance or held_seq > seq:
        return False
    if position <= 0:
        return True
    found = conn.execute(
        select(t.audit_log.c.hash).where(t.audit_log.c.position == position)
    ).scalar_one_or_none()
    return bool(found == digest)


def _insert(mirror: Any, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    try:
        mirror.executemany(sql, rows)
    except sqlite3.IntegrityError as exc:  # an address or serial already held: drifted
        raise MirrorError("the mirror does not match the store") from exc


def _recipient(row: Any) -> tuple[Any, ...]:
    """(address, id, role, 1 when verified else NULL, display name) from the store's columns
    (id, address, role, mailbox_verified_at, display_name)."""
    return (row[1], row[0], row[2], 1 if row[3] is not None else None, row[4])


def _certificate(row: Any) -> tuple[Any, ...]:
    return (row[0], row[1], _text(row[2]), _text(row[3]), bytes(row[4]))


def _text(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat()
