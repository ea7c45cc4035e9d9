"""GET /healthz and /readyz: no key needed; readiness follows the store and its schema, and
lists what the CA should act on (S/MIME BR currency) as warnings."""

from __future__ import annotations

import sqlite3

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from directory import certificates as certs
from directory.passphrase import ensure_passphrase_file
from directory.service import Directory
from tests.api.helpers import PROBLEM


def test_healthz_needs_no_key(client: TestClient) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


def test_ready_when_the_store_answers_at_the_current_schema(client: TestClient) -> None:
    reply = client.get("/readyz")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "ready" and body["warnings"] == []
    assert {c["name"]: c["ok"] for c in body["checks"]} == {
        "store": True,
        "schema": True,
        "lookup-mirror": True,
    }


def test_not_ready_when_the_store_fails(client: TestClient, directory: Directory) -> None:
    with sqlite3.connect(directory.settings.home / "clearance.db") as db:
        db.execute("ALTER TABLE directory_state RENAME TO directory_state_gone")
    reply = client.get("/readyz")
    assert reply.status_code == 503 and reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body["type"] == "urn:clearance:problem:not-ready"
    failed = {c["name"]: c["detail"] for c in body["checks"] if not c["ok"]}
    assert failed == {"store": "does not answer", "schema": "not checked"}
    assert "directory_state" not in reply.text  # what failed, not the database's message


def test_not_ready_at_an_old_schema(client: TestClient, directory: Directory) -> None:
    with sqlite3.connect(directory.settings.home / "clearance.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0005_federated_subaddress'")
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert [c["name"] for c in reply.json()["checks"] if not c["ok"]] == ["schema"]


def test_an_rsa_3072_ca_is_a_readiness_warning_with_its_date(
    client: TestClient, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pki import hierarchy

    def before_smc017(spec: str) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)

    ensure_passphrase_file(directory.settings)
    with monkeypatch.context() as patched:
        patched.setattr(hierarchy, "generate_ca_key", before_smc017)
        certs.initialise_ca(directory.settings, directory.clock)
    reply = client.get("/readyz")
    assert reply.status_code == 200  # it still issues: a warning, not a failure
    warnings = reply.json()["warnings"]
    assert len(warnings) == 2 and warnings[0].startswith("CA: the issuing CA key is RSA 3072")
    assert "2027-09-15" in warnings[0]
