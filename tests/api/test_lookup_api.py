"""GET /v1/lookup and POST /v1/lookups: classification names, the answer's shape, what callers
without detail rights can learn, batches, and bad input (a client error that writes nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from directory.service import Directory
from tests.api.helpers import (
    PROBLEM,
    add_org,
    bearer,
    new_key,
    without_address,
    written,
)
from tests.support.answers import ANSWER_KEYS


@pytest.fixture
def orgs(directory: Directory) -> dict[str, str]:
    """An accredited council, an applied charity and a suspended supplier (ids by role)."""
    council, _ = add_org(directory, "Wessex Council", "wessex.gov.uk", identifiers={"gss": "E1"})
    applied, _ = add_org(
        directory,
        "Pending Charity",
        "pending.org.uk",
        sector="third-sector",
        status="applied",
        mailboxes=("info",),
    )
    suspended, _ = add_org(
        directory,
        "Suspended Supplier",
        "suspended.co.uk",
        sector="private-supplier",
        status="suspended",
        mailboxes=("ops",),
    )
    return {"council": council.id, "applied": applied.id, "suspended": suspended.id}


def look(client: TestClient, key: str, address: str, classification: str | None = None) -> Any:
    params = {"address": address}
    if classification is not None:
        params["classification"] = classification
    response = client.get("/v1/lookup", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


@pytest.mark.parametrize(
    ("asked", "level", "permitted"),
    [
        ("OFFICIAL", "OFFICIAL", True),
        ("official", "OFFICIAL", True),
        ("PROTECT", "OFFICIAL", True),
        ("OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE", True),
        ("Official: Sensitive", "OFFICIAL-SENSITIVE", True),
        ("OFFICIAL-SENSITIVE PERSONAL", "OFFICIAL-SENSITIVE", True),
        ("RESTRICTED", "OFFICIAL-SENSITIVE", True),
        ("SECRET", "SECRET", False),
        ("CONFIDENTIAL", "SECRET", False),
        ("TOP SECRET", "TOP SECRET", False),
    ],
)
def test_classification_names_and_aliases(
    client: TestClient,
    lookup_key: str,
    orgs: dict[str, str],
    asked: str,
    level: str,
    permitted: bool,
) -> None:
    answer = look(client, lookup_key, "J.Smith@Wessex.gov.uk", asked)
    assert answer["address"] == "j.smith@wessex.gov.uk"
    assert answer["classification"] == level
    assert answer["permitted"] is permitted
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"
    if not permitted:
        codes = {r["code"] for r in answer["reasons"] if r["classification"] == level}
        assert codes == {"policy.secret-not-by-email"}


def test_the_answer_has_exactly_the_designed_shape(
    client: TestClient, lookup_key: str, orgs: dict[str, str]
) -> None:
    known = look(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")
    unknown = look(client, lookup_key, "nobody@example.org", "OFFICIAL")
    no_level = look(client, lookup_key, "anyone@wessex.gov.uk")
    for answer in (known, unknown, no_level):
        assert set(answer) == ANSWER_KEYS
        assert set(answer["policy"]) == {"name", "digest"}
        assert answer["policy"]["name"] == "uk-gsc"
        assert answer["policy"]["digest"].startswith("sha256:")
        assert answer["checked_at"].endswith("Z") and answer["valid_until"] > answer["checked_at"]
        for r in answer["reasons"]:
            assert set(r) == {"code", "classification", "message"}
    assert known["known"] is True and known["matched"] == "mailbox"
    assert known["trust_level"] == "accredited"
    assert {"id", "name", "sector"} <= set(known["organisation"])
    assert known["organisation"]["id"] == orgs["council"]
    assert known["organisation"]["sector"] == "local-government"
    assert set(known["handling"]) == {"transport", "encryption"}
    assert known["certificates"] == []
    assert [r["classification"] for r in known["reasons"]] == ["SECRET", "TOP SECRET"]
    assert no_level["matched"] == "domain"
    assert no_level["classification"] is None and no_level["permitted"] is None
    assert unknown["known"] is False and unknown["max_classification"] is None
    assert unknown["permitted"] is False and unknown["organisation"] is None


UNTRUSTED = [
    "nobody@example.org",  # no such domain
    "nobody@wessex.gov.uk".replace("wessex.gov.uk", "unclaimed.gov.uk"),
    "info@pending.org.uk",  # mailbox of an applied organisation
    "anyone@pending.org.uk",  # its domain-wide entry
    "ops@suspended.co.uk",  # mailbox of a suspended organisation
    "anyone@suspended.co.uk",
]


@pytest.mark.parametrize("classification", [None, "OFFICIAL", "OFFICIAL-SENSITIVE"])
def test_untrusted_addresses_look_unknown_without_detail_rights(
    client: TestClient,
    directory: Directory,
    lookup_key: str,
    orgs: dict[str, str],
    classification: str | None,
) -> None:
    other_admin = new_key(directory, f"org-admin:{orgs['council']}")
    for key in (lookup_key, other_admin):
        answers = [look(client, key, a, classification) for a in UNTRUSTED]
        first = without_address(answers[0])
        assert first["known"] is False
        assert {r["code"] for r in first["reasons"]} <= {
            "recipient.not-verified",
            "policy.secret-not-by-email",
        }
        for address, answer in zip(UNTRUSTED, answers, strict=True):
            assert without_address(answer) == first, address


def test_directory_admin_and_the_organisations_own_admin_see_details(
    client: TestClient, directory: Directory, admin_key: str, orgs: dict[str, str]
) -> None:
    own_applied = new_key(directory, f"org-admin:{orgs['applied']}")
    own_suspended = new_key(directory, f"org-admin:{orgs['suspended']}")
    for key, address, org, code in [
        (admin_key, "info@pending.org.uk", "applied", "organisation.applied"),
        (own_applied, "info@pending.org.uk", "applied", "organisation.applied"),
        (admin_key, "ops@suspended.co.uk", "suspended", "organisation.suspended"),
        (own_suspended, "anyone@suspended.co.uk", "suspended", "organisation.suspended"),
    ]:
        answer = look(client, key, address, "OFFICIAL")
        assert answer["known"] is True, (address, answer)
        assert answer["organisation"]["id"] == orgs[org]
        assert answer["permitted"] is False and answer["max_classification"] is None
        assert code in {r["code"] for r in answer["reasons"]}
    # The suspended organisation's admin has no detail rights over the applied one.
    answer = look(client, own_suspended, "info@pending.org.uk", "OFFICIAL")
    assert answer["known"] is False
    assert without_address(answer) == without_address(
        look(client, own_suspended, "nobody@example.org", "OFFICIAL")
    )


def test_a_batch_of_the_limit_equals_the_single_answers(
    client: TestClient, directory: Directory, lookup_key: str, orgs: dict[str, str]
) -> None:
    kinds = [
        "j.smith@wessex.gov.uk",
        "person{}@wessex.gov.uk",
        "info@pending.org.uk",
        "someone{}@nowhere.example",
        "ops@suspended.co.uk",
    ]
    addresses = [kinds[i % len(kinds)].format(i) for i in range(directory.settings.batch_limit)]
    assert len(addresses) == 1000
    response = client.post(
        "/v1/lookups",
        json={"addresses": addresses, "classification": "RESTRICTED"},
        headers=bearer(lookup_key),
    )
    assert response.status_code == 200, response.text
    answers = response.json()["answers"]
    assert len(answers) == 1000
    assert [a["address"] for a in answers] == addresses
    for index, (address, answer) in enumerate(zip(addresses, answers, strict=True)):
        assert set(answer) == ANSWER_KEYS
        # Every answer equals the single lookup (over HTTP for the first few, which cover every
        # kind of address; in process for the rest, to keep the test fast).
        single = (
            look(client, lookup_key, address, "RESTRICTED")
            if index < 20
            else directory.lookup.lookup(address, "RESTRICTED")
        )
        assert answer == single, address
    assert sum(a["permitted"] for a in answers) == 400


def test_batch_of_one_over_the_limit_is_refused(
    client: TestClient, directory: Directory, lookup_key: str
) -> None:
    before = written(directory)
    addresses = [f"p{i}@example.org" for i in range(1001)]
    response = client.post("/v1/lookups", json={"addresses": addresses}, headers=bearer(lookup_key))
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 400 and "1000" in body["detail"] and "1001" in body["detail"]
    assert "answers" not in body
    assert written(directory) == before


def test_malformed_addresses_in_a_batch_are_listed_by_index(
    client: TestClient, directory: Directory, lookup_key: str
) -> None:
    before = written(directory)
    addresses = [
        "ok@example.org",
        "not an address",
        "fine@example.org",
        "two@@example.org",
        "x" * 2000 + "@example.org",
    ]
    response = client.post("/v1/lookups", json={"addresses": addresses}, headers=bearer(lookup_key))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert [p["index"] for p in body["invalid"]] == [1, 3, 4]
    assert all(p["detail"] for p in body["invalid"])
    assert "answers" not in body
    assert written(directory) == before


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"address": "a@example.org", "classification": "ULTRA"}, 400),
        ({"address": "a@example.org", "classification": "X" * 201}, 422),
        ({"address": "not-an-address"}, 400),
        ({"address": "a@exa mple.org"}, 400),
        ({"address": "a" * 1100 + "@example.org"}, 422),
        ({"address": "a" * 300 + "@example.org"}, 400),
        ({}, 422),
    ],
)
def test_bad_single_lookups_are_problems_and_write_nothing(
    client: TestClient,
    directory: Directory,
    lookup_key: str,
    params: dict[str, str],
    status: int,
) -> None:
    before = written(directory)
    response = client.get("/v1/lookup", params=params, headers=bearer(lookup_key))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    assert "permitted" not in body
    assert written(directory) == before


@pytest.mark.parametrize(
    "body",
    [
        {"addresses": ["a@example.org"], "classification": "ULTRA"},
        {"addresses": []},
        {"addresses": "a@example.org"},
        {"classification": "OFFICIAL"},
        {"addresses": ["a@example.org"], "extra": 1},
    ],
)
def test_bad_batches_are_problems(
    client: TestClient, directory: Directory, lookup_key: str, body: dict[str, Any]
) -> None:
    before = written(directory)
    response = client.post("/v1/lookups", json=body, headers=bearer(lookup_key))
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == PROBLEM
    assert written(directory) == before


def test_a_suspension_shows_in_the_next_lookup(
    client: TestClient, directory: Directory, lookup_key: str, admin_key: str, orgs: dict[str, str]
) -> None:
    council = orgs["council"]
    assert look(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")["permitted"] is True
    response = client.post(
        f"/v1/admin/organisations/{council}/suspend",
        json={"reason": "incident"},
        headers=bearer(admin_key),
    )
    assert response.status_code == 200
    unknown = without_address(look(client, lookup_key, "nobody@example.org", "OFFICIAL"))
    for address in ("j.smith@wessex.gov.uk", "anyone@wessex.gov.uk"):
        assert without_address(look(client, lookup_key, address, "OFFICIAL")) == unknown
