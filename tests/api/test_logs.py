"""Request ids, body limits, the access log (api/boundary.py) and the log line format
(api/logs.py)."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import logs
from api.app import create_app
from directory.service import Directory
from tests.api.helpers import bearer
from tests.api.test_problems import PROBLEM

HEX_ID = re.compile(r"[0-9a-f]{20}")  # a per-process prefix and a counter


def test_every_response_names_its_request(client: TestClient, lookup_key: str) -> None:
    made = client.get("/v1/lookup", params={"address": "a@example.org"}, headers=bearer(lookup_key))
    assert HEX_ID.fullmatch(made.headers["x-request-id"])
    given = client.get("/v1/lookup", headers={"X-Request-Id": "gw-1:abc.DEF_9"})
    assert given.status_code == 401 and given.headers["x-request-id"] == "gw-1:abc.DEF_9"
    for unusable in ("two words", "x" * 129, 'quote"'):
        replaced = client.get("/v1/lookup", headers={"X-Request-Id": unusable})
        assert HEX_ID.fullmatch(replaced.headers["x-request-id"])


@pytest.fixture
def logged_client(directory: Directory) -> Iterator[TestClient]:
    directory.settings.access_log = True
    with TestClient(create_app(directory=directory), raise_server_exceptions=False) as client:
        yield client


def test_the_access_log_has_one_line_per_request_and_no_query(
    logged_client: TestClient, lookup_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="clearance.access")
    response = logged_client.get(
        "/v1/lookup",
        params={"address": "j.smith@wessex.gov.uk"},
        headers={**bearer(lookup_key), "X-Request-Id": "req-42"},
    )
    lines = [r for r in caplog.records if r.name == "clearance.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line.__dict__["status"] == response.status_code == 200
    assert line.__dict__["path"] == "/v1/lookup" and line.__dict__["method"] == "GET"
    assert line.__dict__["request_id"] == "req-42"
    assert "j.smith" not in caplog.text and lookup_key not in caplog.text


def test_a_log_line_is_one_json_object_with_the_request_id() -> None:
    token = logs.REQUEST_ID.set("req-7")
    logs.configure("info")
    try:
        record = logging.getLogger("clearance.test").makeRecord(
            "clearance.test", logging.ERROR, __file__, 1, "failed %s", ("here",), None
        )
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            record.exc_info = sys.exc_info()
    finally:
        logs.REQUEST_ID.reset(token)
        logs.configure("warning")
    text = logs.JsonLines().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["request_id"] == "req-7" and line["message"] == "failed here"
    assert line["level"] == "error" and "RuntimeError: a bug" in line["error"]


def test_bodies_are_limited_per_route_before_authentication(
    client: TestClient, directory: Directory, lookup_key: str
) -> None:
    # declared too large: refused unread, before the (missing) key is even looked at
    big = b'{"addresses": [' + b'"a@b.org",' * 200_000 + b'"a@b.org"]}'
    refused = client.post("/v1/lookups", content=big, headers={"content-type": "application/json"})
    assert refused.status_code == 413 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "urn:clearance:problem:too-large"

    # streamed without a length (chunked): counted while read
    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"x" * 8192

    streamed = client.post("/pki/ocsp", content=chunks())
    assert streamed.status_code == 413, streamed.text

    # a batch at the batch limit is within its route's limit
    addresses = [f"someone.{n}@wessex.gov.uk" for n in range(directory.settings.batch_limit)]
    ok = client.post("/v1/lookups", json={"addresses": addresses}, headers=bearer(lookup_key))
    assert ok.status_code == 200, ok.text
    # ... and the same size elsewhere is not
    assert client.post("/v1/admin/organisations", content=big[:2_000_000]).status_code == 413
