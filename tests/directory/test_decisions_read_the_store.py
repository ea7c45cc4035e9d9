"""Security decisions never read a cache: issuing and the trust-list export evaluate what the store
says at that moment, even while the lookups' answer cache may still give an older answer; and the
register's conflict checks hold when two administrators race."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from directory import certificates as certs
from directory import demo
from directory.authz import Principal
from directory.certificates import Certificates
from directory.errors import DirectoryError, ErrorKind
from directory.federation import keys
from directory.federation.service import Federation
from directory.service import Directory
from directory.settings import load_settings
from pki.signing import from_b64url
from tests.conftest import ADMIN, FrozenClock
from tests.directory.test_certificates import csr_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMITH = "j.smith@wessex.gov.uk"


def csr() -> bytes:
    return csr_for("x", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def cached(tmp_path: Path, clock: FrozenClock) -> Iterator[Directory]:
    """The demo directory with the answer cache on, as in production: answers may be up to 30 s
    old (the change sequence is read at most every 30 s)."""
    settings = load_settings(home=tmp_path / "home", cache_refresh_seconds=30.0)
    d = Directory(settings, clock)
    d.initialise()
    (settings.home / "ca-passphrase").write_text("correct horse battery staple 42\n")
    demo.seed(d)
    certs.initialise_ca(settings, clock)
    yield d
    d.close()


def wessex(d: Directory) -> str:
    return next(o.id for o in d.store.organisations() if o.name == "Wessex County Council")


def trust_oid(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    ours = [p.policy_identifier.dotted_string for p in policies]
    return next(o for o in ours if o.startswith("2.25."))


def test_a_certificate_carries_the_trust_the_store_holds_now(cached: Directory) -> None:
    d = cached
    assert d.lookup.lookup(SMITH)["trust_level"] == "accredited"  # now in the answer cache
    for accreditation in d.store.accreditations(wessex(d)):
        d.registration.end_accreditation(ADMIN, accreditation.id)
    # within the refresh interval, a lookup may still give the cached answer: the documented bound
    assert d.lookup.lookup(SMITH)["trust_level"] == "accredited"

    issued = d.certificates.issue(ADMIN, SMITH, csr=csr())

    assert issued.trust_level == "organisation-verified"
    assert trust_oid(issued.pem).endswith(".2")  # organisation-verified, not accredited (.3)
    assert d.live_lookup.lookup(SMITH)["trust_level"] == "organisation-verified"


def test_a_certificate_is_refused_as_soon_as_the_domain_is_gone(cached: Directory) -> None:
    d = cached
    assert d.lookup.lookup(SMITH)["known"] is True  # cached
    domain = d.store.domain_by_name("wessex.gov.uk")
    assert domain is not None
    d.registration.remove_domain(ADMIN, domain.id)
    with pytest.raises(DirectoryError) as raised:
        d.certificates.issue(ADMIN, SMITH, csr=csr())
    assert raised.value.kind in (ErrorKind.NOT_FOUND, ErrorKind.CONFLICT)


def test_the_trust_list_is_exported_from_the_store_now(cached: Directory) -> None:
    d = cached
    keys.ensure_signing_key(d.settings)
    federation = Federation(d)
    reader = Principal("k", frozenset({"federation"}))
    police = next(o for o in d.store.organisations() if o.name == "Wessex Police")

    def listed() -> set[str]:
        payload = federation.trust_list(reader)["payload"]
        return {e["domain"] for e in json.loads(from_b64url(payload, "payload"))["entries"]}

    assert "wessex.police.uk" in listed()
    d.lookup.snapshots.current()  # the lookups' snapshot, now 30 s from its next check
    d.registration.set_status(ADMIN, police.id, "suspended", "test")
    assert d.lookup.snapshots.current().organisations[police.id].status.value == "active"
    assert "wessex.police.uk" not in listed()


def test_certificates_refuse_a_lookup_that_caches(cached: Directory) -> None:
    with pytest.raises(ValueError):
        Certificates(cached.settings, cached.store, cached.lookup, cached.clock)


# --- two administrators at once -------------------------------------------------------------


def race(
    monkeypatch: pytest.MonkeyPatch, target: Any, check: str, other: Callable[[], Any]
) -> None:
    """The first call of `target.check` (the conflict check) sees the store as it was before
    `other` ran to completion: another administrator's same change commits between this one's
    check and its write."""
    real = getattr(target, check)
    state = {"raced": False}

    def checked(*args: Any, **kwargs: Any) -> Any:
        before = real(*args, **kwargs)
        if not state["raced"]:
            state["raced"] = True
            other()
        return before

    monkeypatch.setattr(target, check, checked)


def test_a_domain_claimed_by_two_administrators_at_once_goes_to_one(
    any_directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = any_directory
    r = d.registration
    a = r.create_organisation(ADMIN, "Wessex CC", "local-government", {"other": "a1"})
    b = r.create_organisation(ADMIN, "Impostor Ltd", "private-supplier", {"other": "b1"})
    won: list[str] = []
    race(
        monkeypatch,
        d.store,
        "domain_by_name",
        lambda: won.append(r.claim_domain(ADMIN, b.id, "wessex.gov.uk").organisation_id),
    )
    with pytest.raises(DirectoryError) as raised:
        r.claim_domain(ADMIN, a.id, "wessex.gov.uk")
    assert raised.value.kind is ErrorKind.CONFLICT
    assert won == [b.id]
    assert [x.organisation_id for x in d.store.domains()] == [b.id]


@pytest.mark.parametrize("kind", ["mailbox", "domain-wide"])
def test_an_entry_added_by_two_administrators_at_once_is_added_once(
    any_directory: Directory, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    d = any_directory
    r = d.registration
    org = r.create_organisation(ADMIN, "Wessex CC", "local-government", {"other": "a1"})
    r.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    entry: dict[str, Any] = {"address": SMITH} if kind == "mailbox" else {"domain": "wessex.gov.uk"}
    check = "mailbox_entry" if kind == "mailbox" else "domain_entry"
    race(monkeypatch, d.store, check, lambda: r.add_recipient(ADMIN, org.id, **entry))
    with pytest.raises(DirectoryError) as raised:
        r.add_recipient(ADMIN, org.id, **entry)
    assert raised.value.kind is ErrorKind.CONFLICT
    assert len(d.store.recipients(org.id)) == 1
