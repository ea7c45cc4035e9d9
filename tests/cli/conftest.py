"""The `clearance` command line, in process (typer's CliRunner), on a fresh CLEARANCE_HOME."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli.main import app
from directory.service import Directory
from directory.settings import load_settings

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("CLEARANCE_HOME", str(path))
    monkeypatch.delenv("CLEARANCE_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def run(home: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


@contextmanager
def opened() -> Iterator[Directory]:
    """The directory the CLI works on (CLEARANCE_HOME), to look at what it wrote."""
    directory = Directory(load_settings())
    try:
        yield directory
    finally:
        directory.close()


def written() -> tuple[int, int, int]:
    with opened() as d:
        state = d.store.state()
        return state.seq, state.register_seq, d.store.verify_audit()[0]
