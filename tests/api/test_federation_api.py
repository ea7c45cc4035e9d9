"""Federation over HTTP (in process): the trust list needs scope `federation`, peers and imports
need directory-admin; bad input is a 4xx problem+json and changes nothing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from directory import demo
from directory.federation import keys
from directory.federation.trustlist import build_payload, envelope
from directory.service import Directory
from pki.signing import from_b64url, generate_signing_key, load_public_key, public_key_pem, verify
from tests.api.helpers import PROBLEM, bearer, new_key


@pytest.fixture
def federation_key(directory: Directory) -> str:
    return new_key(directory, "federation")


def test_trust_list_scopes(
    client: TestClient, directory: Directory, federation_key: str, lookup_key: str, admin_key: str
) -> None:
    demo.seed(directory)
    keys.ensure_signing_key(directory.settings)
    reply = client.get("/v1/federation/trust-list", headers=bearer(federation_key))
    assert reply.status_code == 200
    env = reply.json()
    pem, kid = keys.public_key(directory.settings)
    assert env["key_id"] == kid
    payload = from_b64url(env["payload"], "payload")
    verify(load_public_key(pem), payload, from_b64url(env["signature"], "signature"))
    assert len(json.loads(payload)["entries"]) == 7
    assert client.get("/v1/federation/trust-list", headers=bearer(admin_key)).status_code == 200
    refused = client.get("/v1/federation/trust-list", headers=bearer(lookup_key))
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert client.get("/v1/federation/trust-list").status_code == 401
    # the federation scope is for reading the list, nothing else
    assert client.get("/v1/federation/peers", headers=bearer(federation_key)).status_code == 403
    assert client.get("/v1/lookup", params={"address": "a@b.example"},
                      headers=bearer(federation_key)).status_code == 403  # fmt: skip


def test_peers_and_import_over_http(
    client: TestClient, directory: Directory, admin_key: str, federation_key: str
) -> None:
    issuer = generate_signing_key()
    body = {
        "name": "wessex",
        "public_key": public_key_pem(issuer),
        "max_trust": "accredited",
        "permitted": ["gov.uk", "nhs.uk", "police.uk", "org.uk", "co.uk"],
    }
    denied = client.post("/v1/federation/peers", json=body, headers=bearer(federation_key))
    assert denied.status_code == 403
    made = client.post("/v1/federation/peers", json=body, headers=bearer(admin_key))
    assert made.status_code == 201, made.text
    assert made.json()["max_trust"] == "accredited" and made.json()["status"] == "active"
    assert (
        client.post("/v1/federation/peers", json=body, headers=bearer(admin_key)).status_code == 409
    )

    # a list from a second, separate directory (its own store) with one trusted domain
    from tests.directory.test_lookup import register

    register(directory, "Local", "local.gov.uk", domain_wide=True)
    payload = build_payload(directory.store, directory.lookup.snapshots.current(),
                            directory.policy, "a", directory.clock(), 3600)  # fmt: skip
    raw = json.dumps(envelope(payload, issuer))
    url = "/v1/federation/peers/wessex/import"
    assert client.post(url, content=raw, headers=bearer(federation_key)).status_code == 403
    reply = client.post(url, content=raw, headers=bearer(admin_key))
    assert reply.status_code == 200, reply.text
    assert reply.json()["skipped"] == [{"domain": "local.gov.uk", "reason": "local-domain"}]
    replay = client.post(url, content=raw, headers=bearer(admin_key))
    assert replay.status_code == 409 and replay.headers["content-type"] == PROBLEM

    suspended = client.post("/v1/federation/peers/wessex/suspend", headers=bearer(admin_key))
    assert suspended.json()["status"] == "suspended"
    listed = client.get("/v1/federation/peers", headers=bearer(admin_key)).json()
    assert [p["name"] for p in listed] == ["wessex"]
    assert (
        client.delete("/v1/federation/peers/wessex", headers=bearer(admin_key)).status_code == 204
    )
    assert (
        client.delete("/v1/federation/peers/wessex", headers=bearer(admin_key)).status_code == 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad Name", "public_key": "KEY", "permitted": ["uk"]},
        {"name": "ok", "public_key": "not a key", "permitted": ["uk"]},
        {"name": "ok", "public_key": "KEY", "max_trust": "none", "permitted": ["uk"]},
        {"name": "ok", "public_key": "KEY", "url": "ftp://x.example/list", "permitted": ["uk"]},
        {"name": "ok", "public_key": "KEY", "extra": 1, "permitted": ["uk"]},
        {"name": "ok", "public_key": "KEY"},  # no name constraints
        {"name": "ok", "public_key": "KEY", "permitted": []},
        {"name": "ok", "public_key": "KEY", "permitted": ["not a domain"]},
        {"name": "ok", "public_key": "KEY", "permitted": ["uk", 7]},
    ],
)
def test_bad_peers_are_4xx_and_change_nothing(
    client: TestClient, directory: Directory, admin_key: str, body: dict[str, object]
) -> None:
    if body.get("public_key") == "KEY":
        body = {**body, "public_key": public_key_pem(generate_signing_key())}
    before = directory.store.state()
    reply = client.post("/v1/federation/peers", json=body, headers=bearer(admin_key))
    assert reply.status_code in (400, 422), reply.text
    assert reply.headers["content-type"] == PROBLEM
    assert directory.store.state() == before


@pytest.mark.parametrize(
    "raw", ["", "{}", "not json", '{"payload":"a","signature":"b","key_id":"c"}']
)
def test_bad_lists_are_400(
    client: TestClient, directory: Directory, admin_key: str, raw: str
) -> None:
    key = public_key_pem(generate_signing_key())
    client.post("/v1/federation/peers", json={"name": "p", "public_key": key, "permitted": ["uk"]},
                headers=bearer(admin_key))  # fmt: skip
    before = directory.store.state()
    reply = client.post("/v1/federation/peers/p/import", content=raw, headers=bearer(admin_key))
    assert reply.status_code == 400 and reply.headers["content-type"] == PROBLEM
    assert directory.store.state() == before


def test_name_constraints_over_http(
    client: TestClient, directory: Directory, admin_key: str, federation_key: str
) -> None:
    key = public_key_pem(generate_signing_key())
    body = {"name": "nhs", "public_key": key, "permitted": ["NHS.uk", "nhs.uk"]}
    made = client.post("/v1/federation/peers", json=body, headers=bearer(admin_key))
    assert made.status_code == 201 and made.json()["permitted"] == ["nhs.uk"]
    url = "/v1/federation/peers/nhs/permitted"
    new = {"permitted": ["nhs.uk", "nhs.net"]}
    assert client.put(url, json=new, headers=bearer(federation_key)).status_code == 403
    changed = client.put(url, json=new, headers=bearer(admin_key))
    assert changed.status_code == 200 and changed.json()["permitted"] == ["nhs.net", "nhs.uk"]
    before = directory.store.state()
    for bad in ({"permitted": []}, {"permitted": ["no such thing"]}, {}, {"permitted": "nhs.uk"}):
        reply = client.put(url, json=bad, headers=bearer(admin_key))
        assert reply.status_code in (400, 422) and reply.headers["content-type"] == PROBLEM
    missing = client.put("/v1/federation/peers/x/permitted", json=new, headers=bearer(admin_key))
    assert missing.status_code == 404
    assert directory.store.state() == before
