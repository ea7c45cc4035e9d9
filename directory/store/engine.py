"""Engines: SQLite in WAL mode under CLEARANCE_HOME by default, PostgreSQL when configured."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, pool_size: int = 8, sqlite_mmap_bytes: int = 0) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        if sqlite_mmap_bytes > 0:
            # reads through a memory map: no read() and copy per page (lookups at 1M entries)
            mmap = f"PRAGMA mmap_size={int(sqlite_mmap_bytes)}"
            event.listen(engine, "connect", lambda conn, _record: conn.execute(mmap))
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    return create_engine(url, poolclass=NullPool)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
