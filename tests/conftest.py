"""Shared fixtures: a frozen clock, directories on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from directory.authz import Principal
from directory.service import Directory
from directory.settings import load_settings
from tests.support.postgres import postgres_server

ADMIN = Principal("test:admin", frozenset({"directory-admin"}))
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


class BootTicks:
    """A monotonic clock as on a host booted `origin` seconds ago: it moves with real time, from
    `origin` on. time.monotonic() counts from the boot on Linux, so code that takes 0.0 for
    "long ago" fails only on a freshly booted machine; these make every machine one."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.start = time.monotonic()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.start)


FRESH_BOOT = 0.05  # seconds since boot
MONTHS_UP = 90 * 86400.0


@pytest.fixture
def ticks() -> Callable[[], float]:
    """The monotonic clock the directory fixtures use; a module that must hold on any host
    overrides it with `boot_ticks` (both a freshly booted one and one up for months)."""
    return time.monotonic


BOOTS = ("fresh-boot", "months-up")


def boot_ticks(boot: str) -> BootTicks:
    return BootTicks({"fresh-boot": FRESH_BOOT, "months-up": MONTHS_UP}[boot])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (started here on a free port)."""
    with tempfile.TemporaryDirectory(prefix="clearance-pg-") as tmp:
        os.chmod(tmp, 0o755)
        with postgres_server(Path(tmp)) as url:
            yield url


def _fresh_postgres_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def make_directory(
    tmp_path: Path,
    clock: FrozenClock,
    database_url: str = "",
    ticks: Callable[[], float] = time.monotonic,
) -> Directory:
    settings = load_settings(
        home=tmp_path / "home", database_url=database_url, cache_refresh_seconds=0.0
    )
    directory = Directory(settings, clock, ticks=ticks)
    directory.initialise()
    return directory


@pytest.fixture(params=["sqlite", "postgresql"])
def any_directory(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FrozenClock,
    ticks: Callable[[], float],
) -> Iterator[Directory]:
    """The same tests over both backends (the storage suite)."""
    url = ""
    if request.param == "postgresql":
        url = _fresh_postgres_database(request.getfixturevalue("postgres_url"))
    directory = make_directory(tmp_path, clock, url, ticks)
    yield directory
    directory.close()


@pytest.fixture
def directory(
    tmp_path: Path, clock: FrozenClock, ticks: Callable[[], float]
) -> Iterator[Directory]:
    """A directory on the embedded SQLite store, with a frozen clock and no cache delay."""
    d = make_directory(tmp_path, clock, ticks=ticks)
    yield d
    d.close()
