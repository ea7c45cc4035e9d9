"""Leases: one holder at a time for a singleton job, across processes and hosts.

`clearance ldap publish` and `sync` take the lease "ldap-publish" so that two runs never
interleave their writes (an older run could otherwise overwrite newer entries, and nothing would
send them again until they next change). A lease lapses at `expires_at`, so a crashed run
blocks others only until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from directory.errors import DirectoryError, ErrorKind
from directory.store import tables as t


def take(
    engine: Engine, name: str, holder: str, now: datetime, seconds: float
) -> tuple[str, datetime] | None:
    """Take or renew the lease; None when taken, else (the other holder, until when)."""
    leases = t.leases
    until = now + timedelta(seconds=seconds)
    try:
        with engine.begin() as conn:
            renewed = conn.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.holder == holder, leases.c.expires_at <= now),
                )
                .values(holder=holder, expires_at=until)
            ).rowcount
            if renewed:
                return None
            other = conn.execute(
                select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
            ).first()
            if other is not None:
                return other.holder, other.expires_at
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
            return None
    except IntegrityError:  # another holder inserted it between our read and our insert
        return ("another process", until)
    except SQLAlchemyError as exc:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the store cannot be written now") from exc


def release(engine: Engine, name: str, holder: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(t.leases).where(t.leases.c.name == name, t.leases.c.holder == holder)
            )
    except SQLAlchemyError as exc:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the store cannot be written now") from exc
