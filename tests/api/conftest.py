"""The HTTP API over the SQLite `directory` fixture, in process (starlette's TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from directory.service import Directory
from tests.api.helpers import new_key


@pytest.fixture
def app(directory: Directory) -> FastAPI:
    return create_app(directory=directory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: see the 500 the caller sees, not the test's traceback.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin_key(directory: Directory) -> str:
    return new_key(directory, "directory-admin")


@pytest.fixture
def lookup_key(directory: Directory) -> str:
    return new_key(directory, "lookup")
