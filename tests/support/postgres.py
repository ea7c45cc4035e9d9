"""A private PostgreSQL server on 127.0.0.1 and a free port, in a temporary directory.

As root (CI), the server runs as the `postgres` system user, as PostgreSQL insists.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port, require_tool


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = require_tool("initdb")
    return str(Path(initdb).parent)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """Yield a SQLAlchemy URL for a fresh database on a new server; stop it afterwards."""
    bindir = _bindir()
    data = workdir / "pgdata"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(
            [
                f"{bindir}/initdb",
                "-D",
                str(data),
                "-U",
                "clearance",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = workdir / "postgres.log"
    if os.geteuid() == 0:
        log.touch()
        shutil.chown(log, "postgres")
    subprocess.run(
        _as_postgres(
            [
                f"{bindir}/pg_ctl",
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -h 127.0.0.1 -k {workdir} -c fsync=off -c full_page_writes=off "
                "-c synchronous_commit=off -c max_connections=200",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        for _ in range(50):
            ready = subprocess.run(
                [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        yield f"postgresql+psycopg://clearance@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
