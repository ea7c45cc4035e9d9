"""`make demo`'s path: `clearance demo`, then `clearance serve` as a real process on a free port,
queried over HTTP with the demo's lookup key, then stopped cleanly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve import served_demo

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with served_demo(tmp_path) as running:
        yield running.url, running.key


def test_the_demo_is_served_over_http(served: tuple[str, str]) -> None:
    url, key = served
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=10) as client:
        yes = client.get(
            "/v1/lookup",
            params={"address": "j.smith@wessex.gov.uk", "classification": "OFFICIAL-SENSITIVE"},
            headers=auth,
        )
        assert yes.status_code == 200
        assert yes.json()["permitted"] is True
        no = client.get(
            "/v1/lookup",
            params={"address": "finance@budmouth.gov.uk", "classification": "OFFICIAL-SENSITIVE"},
            headers=auth,
        )
        assert no.status_code == 200 and no.json()["permitted"] is False
        batch = client.post(
            "/v1/lookups",
            json={"addresses": ["j.smith@wessex.gov.uk", "nobody@example.org"]},
            headers=auth,
        )
        assert [a["known"] for a in batch.json()["answers"]] == [True, False]
        denied = client.get("/v1/admin/organisations", headers=auth)
        assert denied.status_code == 403
        anonymous = client.get("/v1/lookup", params={"address": "j.smith@wessex.gov.uk"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
    # clearance serve's own limits (api/http_guard.py): a header that never ends is refused
    # once the head passes 32 KiB, before anything reaches the application
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /v1/lookup HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 40_000)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 431 ") and b"application/problem+json" in raw
