"""Problem documents (RFC 9457), hidden internal errors, and failing closed when the store cannot
answer: a 5xx (the gateway defers), never a permitted answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from directory.settings import load_settings
from tests.api.helpers import PROBLEM, add_org, bearer, new_key
from tests.conftest import FrozenClock

SECRET_DETAIL = "password=hunter2 at /srv/clearance/secret.db"


def test_problem_documents_have_the_rfc_9457_fields(client: TestClient, lookup_key: str) -> None:
    responses = [
        client.get("/v1/lookup", params={"address": "bad"}, headers=bearer(lookup_key)),
        client.get("/v1/lookup", headers=bearer(lookup_key)),
        client.get("/v1/lookup", params={"address": "a@example.org"}),
        client.get("/v1/admin/organisations", headers=bearer(lookup_key)),
        client.get("/nowhere", headers=bearer(lookup_key)),
        client.delete("/v1/lookup", headers=bearer(lookup_key)),
    ]
    assert [r.status_code for r in responses] == [400, 422, 401, 403, 404, 405]
    for response in responses:
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert isinstance(body["type"], str) and body["type"]
        assert isinstance(body["title"], str) and body["title"]
        assert body["status"] == response.status_code
        assert isinstance(body["detail"], str) and body["detail"]


def _raise(exc: Exception) -> Any:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fail


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError(SECRET_DETAIL),
        KeyError(SECRET_DETAIL),
        DirectoryError(ErrorKind.INTERNAL, SECRET_DETAIL, path=SECRET_DETAIL),
        DirectoryError(ErrorKind.CONFIG, SECRET_DETAIL),
    ],
    ids=["runtime", "key", "internal", "config"],
)
def test_internal_errors_are_500_without_their_detail(
    client: TestClient,
    directory: Directory,
    lookup_key: str,
    admin_key: str,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(directory.lookup, "lookup", _raise(exc))
    monkeypatch.setattr(directory.lookup, "lookup_many", _raise(exc))
    monkeypatch.setattr(directory.store, "organisations", _raise(exc))
    caplog.set_level("INFO")
    for response in (
        client.get("/v1/lookup", params={"address": "a@example.org"}, headers=bearer(lookup_key)),
        client.post("/v1/lookups", json={"addresses": ["a@b.org"]}, headers=bearer(lookup_key)),
        client.get("/v1/admin/organisations", headers=bearer(admin_key)),
    ):
        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        assert "hunter2" not in response.text and "secret.db" not in response.text
        assert response.json()["detail"] == "The directory could not complete the request."
        # logged once, at the boundary, under the id the caller got back
        rid = response.headers["x-request-id"]
        mine = [r for r in caplog.records if getattr(r, "request_id", None) == rid]
        assert len(mine) == 1 and mine[0].levelname == "ERROR", [r.getMessage() for r in mine]
        assert "Bearer" not in caplog.text


@pytest.fixture
def cached(tmp_path: Path, clock: FrozenClock) -> Iterator[Directory]:
    """A directory whose register snapshot is held for a minute, as in production."""
    settings = load_settings(home=tmp_path / "cached", cache_refresh_seconds=60.0)
    directory = Directory(settings, clock)
    directory.initialise()
    yield directory
    directory.close()


def _break(directory: Directory, table: str) -> None:
    """Break the store under a running directory: a table disappears."""
    db = sqlite3.connect(directory.settings.home / "clearance.db")
    try:
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_gone")
        db.commit()
    finally:
        db.close()


def test_a_store_that_cannot_answer_a_lookup_is_503_never_a_yes(cached: Directory) -> None:
    add_org(cached, "Council", "council.gov.uk")
    key = new_key(cached, "lookup")
    with TestClient(create_app(directory=cached), raise_server_exceptions=False) as client:
        params = {"address": "j.smith@council.gov.uk", "classification": "OFFICIAL"}
        assert client.get("/v1/lookup", params=params, headers=bearer(key)).json()["permitted"]
        _break(cached, "recipients")
        # mailbox reads keep one SQLite read snapshot until the change sequence is next read
        # (at most cache_refresh_seconds): that interval passes
        cached.lookup.snapshots.invalidate()
        # an address not answered before reads the store first: once the store is known to
        # fail, no answer comes from the per-process answer cache either
        for response in (
            client.get("/v1/lookup", params={"address": "x@council.gov.uk"}, headers=bearer(key)),
            client.get("/v1/lookup", params=params, headers=bearer(key)),
            client.post(
                "/v1/lookups",
                json={"addresses": ["anyone@council.gov.uk", "j.smith@council.gov.uk"]},
                headers=bearer(key),
            ),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.headers["retry-after"]
            assert "permitted" not in response.text and "answers" not in response.json()


def test_a_store_that_cannot_be_read_fails_closed(directory: Directory, lookup_key: str) -> None:
    """With no cached snapshot to fall back on, the lookup (and the key check) fail: a 5xx."""
    add_org(directory, "Council", "council.gov.uk")
    with TestClient(create_app(directory=directory), raise_server_exceptions=False) as client:
        params = {"address": "j.smith@council.gov.uk", "classification": "OFFICIAL"}
        assert (
            client.get("/v1/lookup", params=params, headers=bearer(lookup_key)).status_code == 200
        )
        _break(directory, "directory_state")
        response = client.get("/v1/lookup", params=params, headers=bearer(lookup_key))
        assert 500 <= response.status_code < 600
        assert response.headers["content-type"] == PROBLEM
        assert "permitted" not in response.text


def test_a_store_that_cannot_be_read_is_503(directory: Directory, lookup_key: str) -> None:
    add_org(directory, "Council", "council.gov.uk")
    with TestClient(create_app(directory=directory), raise_server_exceptions=False) as client:
        params = {"address": "j.smith@council.gov.uk", "classification": "OFFICIAL"}
        _break(directory, "directory_state")
        response = client.get("/v1/lookup", params=params, headers=bearer(lookup_key))
        assert response.status_code == 503


def test_an_app_on_a_store_that_is_not_initialised_refuses_to_start(tmp_path: Path) -> None:
    directory = Directory(load_settings(home=tmp_path / "empty", cache_refresh_seconds=0.0))
    try:
        with pytest.raises(DirectoryError) as caught:
            create_app(directory=directory)
        assert caught.value.kind is ErrorKind.CONFIG
        assert "clearance init" in caught.value.detail
    finally:
        directory.close()


def test_a_non_ascii_csr_is_the_callers_error(client: TestClient, admin_key: str) -> None:
    response = client.post(
        "/v1/admin/certificates",
        json={
            "address": "j.smith@wessex.gov.uk",
            "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----é",
        },
        headers=bearer(admin_key),
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert "csr_pem" in response.json()["detail"]
