"""The admin API end to end: from an application to OFFICIAL-SENSITIVE, and back down."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from directory.service import Directory
from tests.api.helpers import PROBLEM, add_org, bearer, without_address, written


class Admin:
    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.headers = bearer(key)

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.client.request(method, f"/v1/admin{path}", json=body, headers=self.headers)
        assert response.status_code == status, (method, path, response.text)
        if status >= 400:
            assert response.headers["content-type"] == PROBLEM
        return response.json() if response.content else None


def lookup(client: TestClient, key: str, address: str, classification: str) -> Any:
    params = {"address": address, "classification": classification}
    response = client.get("/v1/lookup", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def period(
    start: str = "2026-10-01T00:00:00Z", end: str = "2027-10-01T00:00:00Z"
) -> dict[str, str]:
    return {"valid_from": start, "expires": end}


def test_onboarding_end_to_end(
    client: TestClient, directory: Directory, admin_key: str, lookup_key: str
) -> None:
    admin = Admin(client, admin_key)
    org = admin.call(
        "POST",
        "/organisations",
        {"name": "Wessex Council", "sector": "local-government", "identifiers": {"gss": "E1"}},
        201,
    )
    assert org["status"] == "applied" and org["vetted_at"] is None
    oid = org["id"]
    dom = admin.call("POST", f"/organisations/{oid}/domains", {"name": "Wessex.GOV.uk"}, 201)
    assert dom["name"] == "wessex.gov.uk" and dom["verified_at"] is None
    verified = admin.call("POST", f"/domains/{dom['id']}/verification", {"evidence": "TXT seen"})
    assert verified["verification_method"] == "manual" and verified["verified_at"]
    posture = {"evidence": "checked", "tls": True, "mta_sts": "enforce", "dmarc": "reject"}
    assert admin.call("POST", f"/domains/{dom['id']}/posture", posture)["posture"]
    assert admin.call("POST", f"/organisations/{oid}/vet", {"evidence": "GSS register"})[
        "vetted_at"
    ]
    assert admin.call("POST", f"/organisations/{oid}/activate", {"reason": "ok"})["status"] == (
        "active"
    )
    acc = admin.call(
        "POST",
        f"/organisations/{oid}/accreditations",
        {"scheme": "psn-compliance", "evidence": "PSN-1", **period()},
        201,
    )
    wide = admin.call(
        "POST",
        f"/organisations/{oid}/recipients",
        {"domain": "wessex.gov.uk", "exclusions": ["noreply"]},
        201,
    )
    assert wide["kind"] == "domain" and wide["exclusions"] == ["noreply"]
    person = admin.call(
        "POST",
        f"/organisations/{oid}/recipients",
        {"address": "J.Smith@wessex.gov.uk", "display_name": "Jo Smith", "mailbox_verified": True},
        201,
    )
    assert person["address"] == "j.smith@wessex.gov.uk"

    answer = lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["permitted"] is True and answer["matched"] == "mailbox"
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"
    assert answer["trust_level"] == "accredited"
    assert lookup(client, lookup_key, "anyone@wessex.gov.uk", "RESTRICTED")["permitted"] is True
    assert lookup(client, lookup_key, "noreply@wessex.gov.uk", "OFFICIAL")["known"] is False

    detail = admin.call("GET", f"/organisations/{oid}")
    assert [d["name"] for d in detail["domains"]] == ["wessex.gov.uk"]
    assert [a["id"] for a in detail["accreditations"]] == [acc["id"]]
    listed = admin.call("GET", f"/organisations/{oid}/recipients")
    assert {r["id"] for r in listed} == {wide["id"], person["id"]}
    assert admin.call("GET", f"/organisations/{oid}/recipients?limit=1&offset=1")[0]["id"] in {
        wide["id"],
        person["id"],
    }
    assert oid in {o["id"] for o in admin.call("GET", "/organisations")}

    # PATCH routes show in the next answer.
    admin.call("PATCH", f"/organisations/{oid}", {"name": "Wessex County Council"})
    assert lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")["organisation"][
        "name"
    ] == ("Wessex County Council")
    assert admin.call("PATCH", f"/recipients/{person['id']}", {"role": "system"})["role"] == (
        "system"
    )
    refused = lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert refused["permitted"] is False and refused["max_classification"] == "OFFICIAL"
    assert "recipient.role-not-allowed" in {r["code"] for r in refused["reasons"]}
    admin.call("PATCH", f"/recipients/{person['id']}", {"role": "person"})
    admin.call("PATCH", f"/recipients/{wide['id']}", {"exclusions": []})
    assert lookup(client, lookup_key, "noreply@wessex.gov.uk", "OFFICIAL")["permitted"] is True

    # A sponsored charity: OFFICIAL while the sponsorship lasts.
    charity = admin.call(
        "POST",
        "/organisations",
        {"name": "Young Carers", "sector": "third-sector", "identifiers": {"charity": "1"}},
        201,
    )
    cid = charity["id"]
    cdom = admin.call("POST", f"/organisations/{cid}/domains", {"name": "carers.org.uk"}, 201)
    admin.call("POST", f"/domains/{cdom['id']}/verification", {"evidence": "TXT"})
    admin.call("POST", f"/domains/{cdom['id']}/posture", posture)
    admin.call("POST", f"/organisations/{cid}/activate", {"reason": "ok"})
    admin.call("POST", f"/organisations/{cid}/recipients", {"domain": "carers.org.uk"}, 201)
    assert lookup(client, lookup_key, "help@carers.org.uk", "OFFICIAL")["permitted"] is False
    sponsorship = admin.call(
        "POST",
        "/sponsorships",
        {
            "sponsor_id": oid,
            "sponsored_id": cid,
            "purpose": "referrals",
            "ceiling": "OFFICIAL",
            **period(),
        },
        201,
    )
    sponsored = lookup(client, lookup_key, "help@carers.org.uk", "OFFICIAL-SENSITIVE")
    assert sponsored["max_classification"] == "OFFICIAL" and sponsored["permitted"] is False
    assert [s["id"] for s in admin.call("GET", f"/organisations/{oid}")["sponsors"]] == [
        sponsorship["id"]
    ]
    admin.call("DELETE", f"/sponsorships/{sponsorship['id']}", status=204)
    assert lookup(client, lookup_key, "help@carers.org.uk", "OFFICIAL")["permitted"] is False
    assert admin.call("GET", f"/organisations/{cid}")["review_required"]

    # Suspension: the council drops to unknown-equivalent for lookup-scope callers.
    admin.call("POST", f"/organisations/{oid}/suspend", {"reason": "incident"})
    unknown = without_address(lookup(client, lookup_key, "x@nowhere.example", "OFFICIAL"))
    assert without_address(lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")) == (
        unknown
    )
    admin.call("POST", f"/organisations/{oid}/activate", {"reason": "resolved"})

    # Ending the accreditation caps the council at OFFICIAL.
    admin.call("DELETE", f"/accreditations/{acc['id']}", status=204)
    capped = lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert capped["permitted"] is False and capped["max_classification"] == "OFFICIAL"
    assert capped["trust_level"] == "organisation-verified"

    # Removing the mailbox entry falls back to the domain-wide entry; removing the domain drops it.
    admin.call("DELETE", f"/recipients/{person['id']}", status=204)
    assert lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")["matched"] == "domain"
    admin.call("DELETE", f"/recipients/{person['id']}", status=404)
    admin.call("DELETE", f"/domains/{dom['id']}", status=204)
    assert lookup(client, lookup_key, "j.smith@wessex.gov.uk", "OFFICIAL")["known"] is False

    # Every change was audited, and the chain holds.
    entries = admin.call("GET", "/audit?limit=1000")
    actions = [e["action"] for e in entries]
    for action in ("organisation.create", "domain.claim", "accreditation.end", "sponsorship.end"):
        assert action in actions
    assert all(e["actor"].startswith("api-key:") for e in entries[-5:])
    about_org = admin.call("GET", f"/audit?entity_id={oid}&limit=1000")
    assert about_org and all(e["entity_id"] == oid for e in about_org)
    assert admin.call("GET", "/audit?after=2&limit=1")[0]["position"] == 3
    verdict = admin.call("GET", "/audit/verify")
    assert verdict == {"checked": len(entries), "ok": True, "problems": []}


@pytest.fixture
def council(client: TestClient, admin_key: str) -> dict[str, str]:
    admin = Admin(client, admin_key)
    org = admin.call(
        "POST",
        "/organisations",
        {"name": "Council", "sector": "local-government", "identifiers": {"gss": "E9"}},
        201,
    )
    dom = admin.call("POST", f"/organisations/{org['id']}/domains", {"name": "council.gov.uk"}, 201)
    return {"org": org["id"], "domain": dom["id"]}


def test_unknown_ids_are_404_problems(
    client: TestClient, directory: Directory, admin_key: str, council: dict[str, str]
) -> None:
    admin = Admin(client, admin_key)
    nope = str(uuid.uuid4())
    before = written(directory)
    for method, path, body in [
        ("GET", f"/organisations/{nope}", None),
        ("PATCH", f"/organisations/{nope}", {"name": "x"}),
        ("POST", f"/organisations/{nope}/vet", {"evidence": "x"}),
        ("POST", f"/organisations/{nope}/activate", {"reason": "x"}),
        ("POST", f"/organisations/{nope}/domains", {"name": "x.gov.uk"}),
        ("POST", f"/organisations/{nope}/recipients", {"domain": "council.gov.uk"}),
        (
            "POST",
            f"/organisations/{nope}/accreditations",
            {"scheme": "iso-27001", "evidence": "x", **period()},
        ),
        ("POST", f"/domains/{nope}/verification", {"evidence": "x"}),
        ("POST", f"/domains/{nope}/posture", {"evidence": "x"}),
        ("DELETE", f"/domains/{nope}", None),
        ("PATCH", f"/recipients/{nope}", {"display_name": "x"}),
        ("DELETE", f"/recipients/{nope}", None),
        ("DELETE", f"/accreditations/{nope}", None),
        ("DELETE", f"/sponsorships/{nope}", None),
        ("DELETE", f"/api-keys/{nope}", None),
        (
            "POST",
            "/sponsorships",
            {
                "sponsor_id": nope,
                "sponsored_id": council["org"],
                "purpose": "x",
                "ceiling": "OFFICIAL",
                **period(),
            },
        ),
        ("POST", "/api-keys", {"name": "x", "scopes": [f"org-admin:{nope}"]}),
    ]:
        problem = admin.call(method, path, body, 404)
        assert problem["status"] == 404 and problem["type"] == "urn:clearance:problem:not-found"
        assert problem["title"] and problem["detail"]
    assert admin.call("GET", "/no/such/route", None, 404)["status"] == 404
    assert written(directory) == before


def test_conflicts_and_bad_input_are_refused_and_write_nothing(
    client: TestClient, directory: Directory, admin_key: str, council: dict[str, str]
) -> None:
    admin = Admin(client, admin_key)
    oid, did = council["org"], council["domain"]
    other = admin.call(
        "POST",
        "/organisations",
        {"name": "Other", "sector": "health", "identifiers": {"ods": "R9"}},
        201,
    )
    before = written(directory)
    for method, path, body, status in [
        ("POST", f"/organisations/{oid}/domains", {"name": "council.gov.uk"}, 409),
        ("POST", f"/organisations/{oid}/domains", {"name": "COUNCIL.gov.uk."}, 409),
        ("POST", f"/organisations/{other['id']}/domains", {"name": "council.gov.uk"}, 409),
        ("POST", f"/organisations/{oid}/domains", {"name": "not a domain"}, 400),
        ("POST", f"/organisations/{oid}/domains", {"name": "x.gov.uk", "extra": 1}, 422),
        (
            "POST",
            f"/organisations/{oid}/accreditations",
            {
                "scheme": "iso-27001",
                "evidence": "x",
                **period("2027-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            },
            400,
        ),
        (
            "POST",
            f"/organisations/{oid}/accreditations",
            {"scheme": "iso-27001", "evidence": "x", **period(end="2026-10-01T00:00:00Z")},
            400,
        ),
        (
            "POST",
            f"/organisations/{oid}/accreditations",
            {"scheme": "iso-27001", "evidence": "x", "valid_from": "yesterday", "expires": "x"},
            422,
        ),
        ("POST", "/organisations", {"name": "X", "sector": "pirates"}, 400),
        ("POST", "/organisations", {"name": "   ", "sector": "health"}, 400),
        (
            "POST",
            "/organisations",
            {"name": "X", "sector": "health", "identifiers": {"x": "1"}},
            400,
        ),
        ("POST", "/organisations", {"sector": "health"}, 422),
        ("PATCH", f"/organisations/{oid}", {}, 400),
        ("POST", f"/organisations/{oid}/suspend", {"reason": "applied cannot be suspended"}, 409),
        ("POST", f"/organisations/{oid}/vet", {"evidence": ""}, 400),
        ("POST", f"/domains/{did}/posture", {"evidence": "x", "dmarc": "maybe"}, 400),
        ("POST", f"/organisations/{oid}/recipients", {"address": "a@elsewhere.org"}, 409),
        ("POST", f"/organisations/{oid}/recipients", {"address": "not-an-address"}, 400),
        (
            "POST",
            f"/organisations/{oid}/recipients",
            {"address": "a@council.gov.uk", "domain": "council.gov.uk"},
            400,
        ),
        (
            "POST",
            f"/organisations/{oid}/recipients",
            {"address": "a@council.gov.uk", "role": "x"},
            400,
        ),
        (
            "POST",
            "/sponsorships",
            {
                "sponsor_id": oid,
                "sponsored_id": other["id"],
                "purpose": "x",
                "ceiling": "OFFICIAL",
                **period(),
            },
            409,  # the sponsor is not active and vetted
        ),
        ("POST", "/api-keys", {"name": "x", "scopes": ["root"]}, 400),
        ("POST", "/api-keys", {"name": "x", "scopes": []}, 422),
        ("GET", "/audit?limit=0", None, 422),
    ]:
        problem = admin.call(method, path, body, status)
        assert set(problem) >= {"type", "title", "status", "detail"}, problem
    assert written(directory) == before


def test_sponsorship_period_and_ceiling_are_checked(
    client: TestClient, directory: Directory, admin_key: str
) -> None:
    sponsor, _ = add_org(directory, "Sponsor", "sponsor.gov.uk")
    charity, _ = add_org(
        directory, "Charity", "charity.org.uk", sector="third-sector", status="applied"
    )
    admin = Admin(client, admin_key)
    before = written(directory)
    base = {"sponsor_id": sponsor.id, "sponsored_id": charity.id, "purpose": "referrals"}
    bad = [
        {**base, "ceiling": "OFFICIAL", **period("2027-01-01T00:00:00Z", "2026-12-01T00:00:00Z")},
        {**base, "ceiling": "SECRET", **period()},
        {**base, "ceiling": "ULTRA", **period()},
        {**base, "sponsored_id": sponsor.id, "ceiling": "OFFICIAL", **period()},
    ]
    for body in bad:
        assert admin.call("POST", "/sponsorships", body, 400)["status"] == 400
    assert written(directory) == before


def test_an_api_key_is_shown_once_and_never_listed(
    client: TestClient, directory: Directory, admin_key: str
) -> None:
    admin = Admin(client, admin_key)
    created = admin.call("POST", "/api-keys", {"name": "gateway", "scopes": ["lookup"]}, 201)
    secret = created["key"]
    assert secret.startswith("clr_") and created["scopes"] == ["lookup"]
    params = {"address": "a@example.org"}
    assert client.get("/v1/lookup", params=params, headers=bearer(secret)).status_code == 200
    listing = client.get("/v1/admin/api-keys", headers=bearer(admin_key))
    assert listing.status_code == 200
    assert created["id"] in {k["id"] for k in listing.json()}
    assert secret not in listing.text
    assert all("key" not in k and "key_hash" not in k for k in listing.json())
    audit = client.get("/v1/admin/audit?limit=1000", headers=bearer(admin_key))
    assert secret not in audit.text
    admin.call("DELETE", f"/api-keys/{created['id']}", status=204)
    assert client.get("/v1/lookup", params=params, headers=bearer(secret)).status_code == 401
    revoked = next(k for k in admin.call("GET", "/api-keys") if k["id"] == created["id"])
    assert revoked["revoked_at"]
    admin.call("DELETE", f"/api-keys/{created['id']}", status=404)


def test_an_org_admin_key_needs_an_existing_organisation(
    client: TestClient, directory: Directory, admin_key: str, council: dict[str, str]
) -> None:
    admin = Admin(client, admin_key)
    scope = f"org-admin:{council['org']}"
    created = admin.call("POST", "/api-keys", {"name": "council", "scopes": [scope]}, 201)
    assert created["scopes"] == [scope]
    own = client.get(f"/v1/admin/organisations/{council['org']}", headers=bearer(created["key"]))
    assert own.status_code == 200
    other = client.get("/v1/admin/organisations", headers=bearer(created["key"]))
    assert other.status_code == 403


def test_the_audit_log_never_shows_an_api_keys_hash(
    client: TestClient, directory: Directory, admin_key: str
) -> None:
    Admin(client, admin_key).call("POST", "/api-keys", {"name": "gw", "scopes": ["lookup"]}, 201)
    audit = client.get("/v1/admin/audit?limit=1000", headers=bearer(admin_key))
    assert "key_hash" not in audit.text
