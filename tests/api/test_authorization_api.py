"""Who may call what over HTTP: every route needs a key, and every denial is a 403 that writes
nothing. The route table below must name every admin route: a new route fails these tests until
its sample request is added here (and so until its authorisation is tested)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from directory.service import Directory
from tests.api.helpers import PROBLEM, add_org, api_routes, bearer, new_key, written
from tests.conftest import ADMIN

# Routes that reach out to DNS or HTTPS: their denials are tested here, their work against real
# servers in tests/integration (the directory-admin run below skips them).
NETWORK = {
    ("POST", "/v1/admin/domains/{domain_id}/verify"),
    ("POST", "/v1/admin/domains/check"),
    ("POST", "/v1/admin/domains/{domain_id}/check"),
}
# Routes that need a certificate authority (tested with one in tests/api/test_pki_api.py).
NEEDS_CA = {
    ("POST", "/v1/admin/certificates"),
    ("POST", "/v1/admin/certificates/{serial}/revoke"),
}
# The CA's publication points are public by nature: relying parties fetch CRLs, CA certificates
# and OCSP answers anonymously. Without a CA they answer 404, never 401.
PKI_PUBLIC = {
    ("GET", "/pki/root.cer"),
    ("GET", "/pki/issuing.cer"),
    ("GET", "/pki/root.crl"),
    ("GET", "/pki/issuing.crl"),
    ("POST", "/pki/ocsp"),
    ("GET", "/pki/ocsp/{encoded:path}"),
}
# Documentation and the health probes are public; nothing else is.
PUBLIC = {
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/openapi.json"),
    ("GET", "/redoc"),
    ("GET", "/static-offline-docs"),  # the documentation's scripts and styles (fastapi-offline)
    ("GET", "/healthz"),  # probes: the process is up
    ("GET", "/readyz"),  # probes: store and schema (checks and CA warnings, no register data)
}


@dataclass
class World:
    a: str  # organisation ids
    b: str
    c: str  # an applied charity, sponsored by B
    d: str  # an applied charity, sponsored by nobody
    a_domain: str
    a_recipient: str
    b_domain: str
    b_spare_domain: str
    b_recipient: str
    b_accreditation: str
    b_sponsorship: str
    spare_key: str  # an API key id


@pytest.fixture
def world(directory: Directory) -> World:
    reg = directory.registration
    now = directory.clock()
    a, a_dom = add_org(directory, "Council A", "a-council.gov.uk", identifiers={"gss": "E1"})
    b, b_dom = add_org(directory, "Council B", "b-council.gov.uk", identifiers={"gss": "E2"})
    c, _ = add_org(
        directory, "Charity C", "charity-c.org.uk", sector="third-sector", status="applied"
    )
    d, _ = add_org(
        directory, "Charity D", "charity-d.org.uk", sector="third-sector", status="applied"
    )
    spare = reg.claim_domain(ADMIN, b.id, "b-spare.gov.uk")
    sponsorship = reg.add_sponsorship(
        ADMIN, b.id, c.id, "referrals", "OFFICIAL", now, now + timedelta(days=30)
    )
    key, _ = reg.create_api_key(ADMIN, "spare", ["lookup"])
    a_recipient = directory.store.mailbox_entry("j.smith@a-council.gov.uk")
    b_recipient = directory.store.mailbox_entry("j.smith@b-council.gov.uk")
    assert a_recipient is not None and b_recipient is not None
    return World(
        a=a.id,
        b=b.id,
        c=c.id,
        d=d.id,
        a_domain=a_dom.id,
        a_recipient=a_recipient.id,
        b_domain=b_dom.id,
        b_spare_domain=spare.id,
        b_recipient=b_recipient.id,
        b_accreditation=directory.store.accreditations(b.id)[0].id,
        b_sponsorship=sponsorship.id,
        spare_key=key.id,
    )


def on_b(w: World) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """One request per admin route, aimed at organisation B's records (or at the whole directory),
    in an order that a directory administrator can run from first to last."""
    later = "2027-06-01T00:00:00Z"
    return [
        (
            "POST",
            "/v1/admin/organisations",
            "/v1/admin/organisations",
            {"name": "New Org", "sector": "health", "identifiers": {"ods": "RX1"}},
        ),
        ("GET", "/v1/admin/organisations", "/v1/admin/organisations", None),
        ("GET", "/v1/admin/organisations/{org_id}", f"/v1/admin/organisations/{w.b}", None),
        (
            "PATCH",
            "/v1/admin/organisations/{org_id}",
            f"/v1/admin/organisations/{w.b}",
            {"name": "Council B (renamed)"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/vet",
            f"/v1/admin/organisations/{w.b}/vet",
            {"evidence": "checked again"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/suspend",
            f"/v1/admin/organisations/{w.b}/suspend",
            {"reason": "audit"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/activate",
            f"/v1/admin/organisations/{w.b}/activate",
            {"reason": "audit passed"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/domains",
            f"/v1/admin/organisations/{w.b}/domains",
            {"name": "b-new.gov.uk"},
        ),
        (
            "GET",
            "/v1/admin/organisations/{org_id}/domains",
            f"/v1/admin/organisations/{w.b}/domains",
            None,
        ),
        (
            "POST",
            "/v1/admin/domains/{domain_id}/verification",
            f"/v1/admin/domains/{w.b_domain}/verification",
            {"evidence": "TXT seen"},
        ),
        (
            "POST",
            "/v1/admin/domains/{domain_id}/posture",
            f"/v1/admin/domains/{w.b_domain}/posture",
            {"evidence": "checked", "tls": True, "mta_sts": "enforce", "dmarc": "reject"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/recipients",
            f"/v1/admin/organisations/{w.b}/recipients",
            {"address": "new.person@b-council.gov.uk"},
        ),
        (
            "GET",
            "/v1/admin/organisations/{org_id}/recipients",
            f"/v1/admin/organisations/{w.b}/recipients",
            None,
        ),
        (
            "PATCH",
            "/v1/admin/recipients/{recipient_id}",
            f"/v1/admin/recipients/{w.b_recipient}",
            {"display_name": "Jo Smith"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/accreditations",
            f"/v1/admin/organisations/{w.b}/accreditations",
            {
                "scheme": "iso-27001",
                "evidence": "cert 2",
                "valid_from": "2026-01-01T00:00:00Z",
                "expires": later,
            },
        ),
        (
            "POST",
            "/v1/admin/sponsorships",
            "/v1/admin/sponsorships",
            {
                "sponsor_id": w.b,
                "sponsored_id": w.d,
                "purpose": "referrals",
                "ceiling": "OFFICIAL",
                "valid_from": "2026-10-01T00:00:00Z",
                "expires": later,
            },
        ),
        (
            "POST",
            "/v1/admin/api-keys",
            "/v1/admin/api-keys",
            {"name": "gateway", "scopes": ["lookup"]},
        ),
        ("GET", "/v1/admin/api-keys", "/v1/admin/api-keys", None),
        ("GET", "/v1/admin/audit", "/v1/admin/audit", None),
        ("GET", "/v1/admin/audit/verify", "/v1/admin/audit/verify", None),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/domains/claim",
            f"/v1/admin/organisations/{w.b}/domains/claim",
            {"name": "b-dns.gov.uk"},
        ),
        (
            "POST",
            "/v1/admin/domains/{domain_id}/verify",
            f"/v1/admin/domains/{w.b_domain}/verify",
            None,
        ),
        (
            "POST",
            "/v1/admin/domains/check",
            "/v1/admin/domains/check",
            {"name": "b-council.gov.uk"},
        ),
        (
            "POST",
            "/v1/admin/domains/{domain_id}/check",
            f"/v1/admin/domains/{w.b_domain}/check",
            None,
        ),
        (
            "DELETE",
            "/v1/admin/recipients/{recipient_id}",
            f"/v1/admin/recipients/{w.b_recipient}",
            None,
        ),
        (
            "DELETE",
            "/v1/admin/domains/{domain_id}",
            f"/v1/admin/domains/{w.b_spare_domain}",
            None,
        ),
        (
            "DELETE",
            "/v1/admin/accreditations/{accreditation_id}",
            f"/v1/admin/accreditations/{w.b_accreditation}",
            None,
        ),
        (
            "DELETE",
            "/v1/admin/sponsorships/{sponsorship_id}",
            f"/v1/admin/sponsorships/{w.b_sponsorship}",
            None,
        ),
        ("DELETE", "/v1/admin/api-keys/{key_id}", f"/v1/admin/api-keys/{w.spare_key}", None),
        (
            "POST",
            "/v1/admin/certificates",
            "/v1/admin/certificates",
            {"address": "j.smith@b-council.gov.uk", "pkcs12_passphrase": "a long passphrase"},
        ),
        (
            "POST",
            "/v1/admin/certificates/{serial}/revoke",
            "/v1/admin/certificates/abcdef0123/revoke",
            {"reason": "keyCompromise"},
        ),
        (
            "POST",
            "/v1/admin/organisations/{org_id}/withdraw",
            f"/v1/admin/organisations/{w.b}/withdraw",
            {"reason": "left"},
        ),
    ]


def send(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None, key: str | None
) -> Any:
    headers = bearer(key) if key else {}
    return client.request(method, path, json=body, headers=headers)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:clearance:problem:")
    assert body["title"] and body["detail"]
    return dict(body)


# --- authentication: every route ---------------------------------------------------------------
def test_every_route_outside_the_documentation_is_admin_or_lookup(app: FastAPI) -> None:
    routes = api_routes(app)
    assert ("GET", "/v1/lookup") in routes and ("POST", "/v1/lookups") in routes
    assert len(routes) > 20
    for method, path in routes:
        assert (method, path) in PUBLIC | PKI_PUBLIC or path.startswith("/v1/"), (method, path)


def test_every_route_needs_a_valid_key(
    app: FastAPI, client: TestClient, directory: Directory
) -> None:
    revoked_id, revoked = directory.registration.create_api_key(ADMIN, "old", ["directory-admin"])
    directory.registration.revoke_api_key(ADMIN, revoked_id.id)
    before = written(directory)
    bad_headers: list[dict[str, str]] = [
        {},
        bearer("clr_not-a-key"),
        bearer(revoked),
        {"Authorization": "Basic dGVzdDp0ZXN0"},
        {"Authorization": "Bearer"},
    ]
    checked = 0
    for method, template in api_routes(app):
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
        if (method, template) in PUBLIC:
            if path == "/static-offline-docs":  # a directory of files: ask for one of them
                path += "/swagger-ui.css"
            assert client.request(method, path).status_code == 200, path
            continue
        if (method, template) in PKI_PUBLIC:
            assert_problem(client.request(method, path), 404)
            continue
        body: dict[str, Any] | None = {} if method in ("POST", "PATCH", "PUT") else None
        for headers in bad_headers:
            response = client.request(method, path, json=body, headers=headers)
            problem = assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), path
            assert problem["type"] == "urn:clearance:problem:unauthenticated"
            checked += 1
    assert checked >= 5 * 28
    assert written(directory) == before


def test_a_revoked_key_stops_working_at_once(
    client: TestClient, directory: Directory, lookup_key: str
) -> None:
    params = {"address": "x@example.org"}
    assert client.get("/v1/lookup", params=params, headers=bearer(lookup_key)).status_code == 200
    key = next(k for k in directory.store.api_keys() if "lookup" in k.scopes)
    directory.registration.revoke_api_key(ADMIN, key.id)
    response = client.get("/v1/lookup", params=params, headers=bearer(lookup_key))
    assert_problem(response, 401)


def test_bad_input_without_a_key_is_still_401(client: TestClient) -> None:
    assert_problem(client.get("/v1/lookup"), 401)
    assert_problem(client.post("/v1/lookups", json={"addresses": []}), 401)


# --- authorisation: every denial ---------------------------------------------------------------
def test_the_route_table_names_every_admin_route(app: FastAPI, world: World) -> None:
    admin = {(m, p) for m, p in api_routes(app) if p.startswith("/v1/admin")}
    table = {(m, template) for m, template, _, _ in on_b(world)}
    assert table == admin, f"untested: {admin - table}; gone: {table - admin}"


@pytest.mark.parametrize("scopes", [("lookup",), ("org-admin:A",)], ids=["lookup", "org-admin-A"])
def test_every_admin_route_refuses_lookup_keys_and_other_organisations_admins(
    client: TestClient, directory: Directory, world: World, scopes: tuple[str, ...]
) -> None:
    key = new_key(directory, *(s.replace(":A", f":{world.a}") for s in scopes))
    before = written(directory)
    for method, _, path, body in on_b(world):
        problem = assert_problem(send(client, method, path, body, key), 403)
        assert problem["type"] == "urn:clearance:problem:forbidden"
    assert written(directory) == before


def test_directory_admin_may_call_every_admin_route(
    client: TestClient, directory: Directory, world: World, admin_key: str
) -> None:
    for method, template, path, body in on_b(world):
        if (method, template) in NETWORK | NEEDS_CA:
            continue
        response = send(client, method, path, body, admin_key)
        assert 200 <= response.status_code < 300, (method, path, response.text)
    checked, problems = directory.store.verify_audit()
    assert not problems and checked > 0


def test_org_admin_is_refused_directory_admin_actions_on_its_own_organisation(
    client: TestClient, directory: Directory, world: World
) -> None:
    key = new_key(directory, f"org-admin:{world.a}")
    a, acc = world.a, directory.store.accreditations(world.a)[0].id
    refused = [
        ("PATCH", f"/v1/admin/organisations/{a}", {"name": "Council A+"}),
        ("POST", f"/v1/admin/organisations/{a}/vet", {"evidence": "self-vetted"}),
        ("POST", f"/v1/admin/organisations/{a}/suspend", {"reason": "x"}),
        ("POST", f"/v1/admin/organisations/{a}/withdraw", {"reason": "x"}),
        (
            "POST",
            f"/v1/admin/organisations/{a}/accreditations",
            {
                "scheme": "iso-27001",
                "evidence": "self-assessed",
                "valid_from": "2026-01-01T00:00:00Z",
                "expires": "2027-01-01T00:00:00Z",
            },
        ),
        ("DELETE", f"/v1/admin/accreditations/{acc}", None),
        ("POST", f"/v1/admin/domains/{world.a_domain}/verification", {"evidence": "trust me"}),
        (
            "POST",
            f"/v1/admin/domains/{world.a_domain}/posture",
            {"evidence": "trust me", "mta_sts": "enforce", "dmarc": "reject"},
        ),
        ("POST", "/v1/admin/api-keys", {"name": "mine", "scopes": [f"org-admin:{a}"]}),
        ("POST", "/v1/admin/api-keys", {"name": "mine", "scopes": ["directory-admin"]}),
        ("GET", "/v1/admin/api-keys", None),
        ("GET", "/v1/admin/audit", None),
        ("GET", f"/v1/admin/audit?entity_id={a}", None),
        ("GET", "/v1/admin/audit/verify", None),
        ("GET", "/v1/admin/organisations", None),
        # another organisation sponsoring, even towards this one
        (
            "POST",
            "/v1/admin/sponsorships",
            {
                "sponsor_id": world.b,
                "sponsored_id": a,
                "purpose": "x",
                "ceiling": "OFFICIAL",
                "valid_from": "2026-10-01T00:00:00Z",
                "expires": "2027-01-01T00:00:00Z",
            },
        ),
    ]
    before = written(directory)
    for method, path, body in refused:
        assert_problem(send(client, method, path, body, key), 403)
    assert written(directory) == before


def test_org_admin_manages_its_own_organisation(
    client: TestClient, directory: Directory, world: World
) -> None:
    key = new_key(directory, f"org-admin:{world.a}")
    a = world.a
    assert send(client, "GET", f"/v1/admin/organisations/{a}", None, key).json()["id"] == a
    domains = send(client, "GET", f"/v1/admin/organisations/{a}/domains", None, key).json()
    assert [d["name"] for d in domains] == ["a-council.gov.uk"]
    claimed = send(
        client, "POST", f"/v1/admin/organisations/{a}/domains", {"name": "a-extra.gov.uk"}, key
    )
    assert claimed.status_code == 201
    added = send(
        client,
        "POST",
        f"/v1/admin/organisations/{a}/recipients",
        {"address": "team@a-council.gov.uk", "role": "shared"},
        key,
    )
    assert added.status_code == 201
    changed = send(
        client, "PATCH", f"/v1/admin/recipients/{world.a_recipient}", {"role": "shared"}, key
    )
    assert changed.status_code == 200 and changed.json()["role"] == "shared"
    sponsored = send(
        client,
        "POST",
        "/v1/admin/sponsorships",
        {
            "sponsor_id": a,
            "sponsored_id": world.d,
            "purpose": "referrals",
            "ceiling": "OFFICIAL",
            "valid_from": "2026-10-01T00:00:00Z",
            "expires": "2027-06-01T00:00:00Z",
        },
        key,
    )
    assert sponsored.status_code == 201, sponsored.text
    ended = send(client, "DELETE", f"/v1/admin/sponsorships/{sponsored.json()['id']}", None, key)
    assert ended.status_code == 204
    removed = send(client, "DELETE", f"/v1/admin/recipients/{added.json()['id']}", None, key)
    assert removed.status_code == 204
    dropped = send(client, "DELETE", f"/v1/admin/domains/{claimed.json()['id']}", None, key)
    assert dropped.status_code == 204
    actors = {e.actor for e in directory.store.audit_entries(after=0, limit=1000)}
    assert any(actor.startswith("api-key:") for actor in actors)
