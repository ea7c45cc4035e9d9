"""POST /v1/decisions: the lookup scope, problem+json for bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient

from directory import demo
from directory.service import Directory
from tests.api.helpers import PROBLEM, bearer

HEADERS = "From: clerk@wessex.gov.uk\nSubject: [OFFICIAL-SENSITIVE] Referral\n"


def test_decisions_per_recipient(client: TestClient, directory: Directory, lookup_key: str) -> None:
    demo.seed(directory)
    response = client.post(
        "/v1/decisions",
        headers=bearer(lookup_key),
        json={"headers": HEADERS, "recipients": ["j.smith@wessex.gov.uk", "x@example.org"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["classification"] == "OFFICIAL-SENSITIVE"
    assert [(d["recipient"], d["decision"]) for d in body["decisions"]] == [
        ("j.smith@wessex.gov.uk", "allow"),
        ("x@example.org", "block"),
    ]
    assert body["policy"]["name"] == "uk-gsc"


def test_decisions_need_an_api_key(client: TestClient) -> None:
    response = client.post("/v1/decisions", json={"headers": "", "recipients": ["a@b.example"]})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_a_bad_recipient_is_a_problem(client: TestClient, lookup_key: str) -> None:
    response = client.post(
        "/v1/decisions",
        headers=bearer(lookup_key),
        json={"headers": HEADERS, "recipients": ["not an address"]},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["invalid"][0]["index"] == 0


def test_no_recipients_is_a_problem(client: TestClient, lookup_key: str) -> None:
    response = client.post(
        "/v1/decisions", headers=bearer(lookup_key), json={"headers": HEADERS, "recipients": []}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
