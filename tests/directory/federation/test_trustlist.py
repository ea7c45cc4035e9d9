"""Export: what a trust list holds (only what is trusted now), and its signature."""

from __future__ import annotations

import json

import pytest

from directory.authz import Principal
from directory.errors import DirectoryError, ErrorKind
from directory.federation import keys
from directory.federation.service import Federation
from directory.federation.trustlist import FORMAT, canonical
from pki.signing import from_b64url, key_id, load_public_key, verify
from tests.conftest import ADMIN
from tests.directory.federation.conftest import Pair

UNTRUSTED = {"anglebury-cases.co.uk", "melchesterfoodbank.org.uk"}  # suspended, applied


def test_only_trusted_domains_leave_the_directory(pair: Pair) -> None:
    payload = pair.payload()
    assert payload["format"] == FORMAT
    assert payload["directory"] == "wessex-region"
    listed = {e["domain"]: e for e in payload["entries"]}
    assert set(listed) == {
        "wessex.gov.uk",
        "casterbridge.gov.uk",
        "cwh.nhs.uk",
        "wessex.police.uk",
        "dcs.gov.uk",
        "casterbridgeyoungcarers.org.uk",
        "budmouth.gov.uk",
    }
    assert not UNTRUSTED & set(listed)
    assert "anglebury" not in json.dumps(payload) and "Melchester" not in json.dumps(payload)
    wessex = listed["wessex.gov.uk"]
    assert wessex["trust_level"] == "accredited"
    assert wessex["organisation"]["name"] == "Wessex County Council"
    assert wessex["domain_wide"] is True and wessex["exclusions"] == ["noreply"]
    assert wessex["mailboxes"] == [
        {"address": "children.services@wessex.gov.uk", "role": "shared", "mailbox_verified": True},
        {"address": "j.smith@wessex.gov.uk", "role": "person", "mailbox_verified": True},
    ]
    assert wessex["posture"]["transport"]["mta_sts"] == "enforce"
    assert wessex["posture"]["dmarc"] == "reject"
    assert listed["budmouth.gov.uk"]["trust_level"] == "organisation-verified"  # lapsed
    carers = listed["casterbridgeyoungcarers.org.uk"]
    assert carers["trust_level"] == "organisation-verified"
    assert carers["ceiling"] == "OFFICIAL-SENSITIVE"


def test_a_domain_whose_organisation_is_suspended_stops_being_listed(pair: Pair) -> None:
    org = next(o for o in pair.a.store.organisations() if o.name == "Wessex Police")
    pair.a.registration.set_status(ADMIN, org.id, "suspended", "test")
    domains = {e["domain"] for e in pair.payload()["entries"]}
    assert "wessex.police.uk" not in domains and "wessex.gov.uk" in domains


def test_the_envelope_verifies_with_the_directory_key(pair: Pair) -> None:
    keys.ensure_signing_key(pair.a.settings)
    assert oct(keys.key_path(pair.a.settings).stat().st_mode & 0o777) == "0o600"
    assert b"ENCRYPTED PRIVATE KEY" in keys.key_path(pair.a.settings).read_bytes()
    assert keys.ensure_signing_key(pair.a.settings) is False  # never replaced
    pem, kid = keys.public_key(pair.a.settings)
    envelope = Federation(pair.a).trust_list(Principal("k", frozenset({"federation"})))
    assert envelope["key_id"] == kid == key_id(load_public_key(pem))
    payload = from_b64url(envelope["payload"], "payload")
    verify(load_public_key(pem), payload, from_b64url(envelope["signature"], "signature"))
    assert canonical(json.loads(payload)) == payload  # canonical JSON, as signed


@pytest.mark.parametrize("scopes", [set(), {"lookup"}, {"org-admin:" + "0" * 36}])
def test_the_trust_list_needs_the_federation_scope(pair: Pair, scopes: set[str]) -> None:
    keys.ensure_signing_key(pair.a.settings)
    with pytest.raises(DirectoryError) as caught:
        Federation(pair.a).trust_list(Principal("k", frozenset(scopes)))
    assert caught.value.kind is ErrorKind.FORBIDDEN


def test_no_signing_key_is_a_configuration_error(pair: Pair) -> None:
    with pytest.raises(DirectoryError) as caught:
        Federation(pair.b).trust_list(ADMIN)
    assert caught.value.kind is ErrorKind.CONFIG
    assert "federation key init" in caught.value.detail
