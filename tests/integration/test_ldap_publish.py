"""Publishing to a real slapd, read back with ldapsearch (and postmap where Postfix is here)."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from directory import demo
from directory.publish.publish import LDAPPublisher, any_of
from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN, FrozenClock
from tests.integration.ldap_support import BASE, one, published, slapd, target
from tests.support.servers import require_tool
from tests.support.slapd import Slapd

pytestmark = pytest.mark.integration
__all__ = ["slapd"]

ROOT = Path(__file__).resolve().parent.parent.parent
SPECIALS = '"o*(t)\\\\,+\\"<>;="@wessex.gov.uk'  # a quoted local part with every special
STARRY = "a*b+c=d@wessex.gov.uk"  # a dot-atom local part with filter and DN specials


def _recipients(server: Slapd) -> dict[str, dict[str, list[str | bytes]]]:
    entries = published(server, "(objectClass=inetOrgPerson)")
    return {str(one(e, "clearanceAddress")): e for e in entries}


def _agrees(entry: dict[str, list[str | bytes]], answer: dict[str, object]) -> None:
    org = answer["organisation"]
    assert isinstance(org, dict)
    assert one(entry, "clearanceMaxClassification") == answer["max_classification"]
    assert one(entry, "clearanceTrustLevel") == answer["trust_level"]
    assert one(entry, "clearanceOrganisationId") == org["id"]
    assert one(entry, "clearanceSector") == org["sector"]
    assert one(entry, "clearanceVerified") == "TRUE"
    policy = answer["policy"]
    assert isinstance(policy, dict)
    assert one(entry, "clearancePolicyDigest") == policy["digest"]


def test_publish_holds_exactly_the_verified_entries_and_agrees_with_lookup(
    slapd: Slapd, directory: Directory
) -> None:
    demo.seed(directory)
    report = LDAPPublisher(directory, target(slapd)).publish()
    assert report.full and report.added > 0 and report.deleted == 0
    recipients = _recipients(slapd)
    for address, entry in recipients.items():
        _agrees(entry, directory.lookup.lookup(address))
        assert one(entry, "mail") == address
    # Every mailbox the lookup knows (to an anonymous caller) is published, and nothing else.
    for org in directory.store.organisations():
        for r in directory.store.recipients(org.id):
            if r.address is None:
                continue
            answer = directory.lookup.lookup(r.address)
            assert (r.address in recipients) == (answer["known"] and answer["matched"] == "mailbox")
    assert "support@casterbridgeyoungcarers.org.uk" in recipients  # sponsored charity
    domains = {one(e, "associatedDomain"): e for e in published(slapd, "(associatedDomain=*)")}
    assert "anglebury-cases.co.uk" not in domains  # suspended supplier
    assert "melchesterfoodbank.org.uk" not in domains  # applied, not verified
    wessex = domains["wessex.gov.uk"]
    _agrees(wessex, directory.lookup.lookup("anyone@wessex.gov.uk"))
    assert wessex["clearanceExcludedLocalPart"] == ["noreply"]
    assert sorted(map(str, wessex["clearanceOverriddenLocalPart"])) == [
        "children.services",
        "j.smith",
    ]
    # The published validity is when the facts lapse; the HTTP answer's is never later.
    answer = directory.lookup.lookup("j.smith@wessex.gov.uk")
    stamp = one(recipients["j.smith@wessex.gov.uk"], "clearanceValidUntil")
    assert stamp is not None
    assert answer["valid_until"] <= f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}"
    orgs = published(slapd, "(objectClass=clearanceOrganisation)")
    names = {one(e, "o") for e in orgs}
    assert "Wessex County Council" in names and "Anglebury Case Systems Ltd" not in names
    # A second full publish finds nothing to change.
    again = LDAPPublisher(directory, target(slapd)).publish()
    assert (again.added, again.modified, again.deleted) == (0, 0, 0)


def test_sync_sends_only_the_changes(
    slapd: Slapd, directory: Directory, clock: FrozenClock
) -> None:
    demo.seed(directory)
    publisher = LDAPPublisher(directory, target(slapd))
    publisher.publish()
    nothing = publisher.sync()
    assert not nothing.full and nothing.operations == 1  # only the recorded sequence
    wessex = next(o for o in directory.store.organisations() if o.name == "Wessex County Council")
    police = next(o for o in directory.store.organisations() if o.name == "Wessex Police")
    reg = directory.registration
    added = reg.add_recipient(ADMIN, wessex.id, address="new.starter@wessex.gov.uk")
    gone = directory.store.mailbox_entry("a.jones@casterbridge.gov.uk")
    assert gone is not None
    reg.remove_recipient(ADMIN, gone.id)
    reg.set_status(ADMIN, police.id, "suspended", "test: contract review")
    report = publisher.sync()
    assert not report.full
    # add 1 + its override on the domain entry, delete 1, delete police's 2 mailboxes + org
    # entry, and the recorded sequence
    assert report.added == 1 and report.deleted == 4
    assert report.operations <= 8
    recipients = _recipients(slapd)
    assert added.address in recipients
    assert "a.jones@casterbridge.gov.uk" not in recipients
    assert "d.morgan@wessex.police.uk" not in recipients
    domain = published(slapd, "(associatedDomain=wessex.gov.uk)")[0]
    assert "new.starter" in domain["clearanceOverriddenLocalPart"]
    # Reinstating the organisation republishes its entries.
    reg.set_status(ADMIN, police.id, "active", "test: review done")
    assert publisher.sync().added == 3
    assert "d.morgan@wessex.police.uk" in _recipients(slapd)
    # Facts lapse by the clock alone (posture age): the next sync downgrades, no store change.
    before = _recipients(slapd)["j.smith@wessex.gov.uk"]
    clock.advance(days=30)
    lapsed = publisher.sync()
    assert lapsed.modified > 0
    after = _recipients(slapd)["j.smith@wessex.gov.uk"]
    _agrees(after, directory.lookup.lookup("j.smith@wessex.gov.uk"))
    assert one(after, "clearanceMaxClassification") != one(before, "clearanceMaxClassification")


def test_every_value_in_a_dn_or_filter_is_escaped(slapd: Slapd, directory: Directory) -> None:
    demo.seed(directory)
    wessex = next(o for o in directory.store.organisations() if o.name == "Wessex County Council")
    reg = directory.registration
    reg.update_organisation(ADMIN, wessex.id, name='Wessex *()\\,+"<>;= Council')
    special = reg.add_recipient(
        ADMIN, wessex.id, address=SPECIALS, display_name='Odd *()\\,+"<>;= Name'
    )
    starry = reg.add_recipient(ADMIN, wessex.id, address=STARRY)
    publisher = LDAPPublisher(directory, target(slapd))
    publisher.publish()
    recipients = _recipients(slapd)
    assert special.address in recipients and starry.address in recipients
    entry = recipients[str(special.address)]
    assert one(entry, "cn") == 'Odd *()\\,+"<>;= Name'
    assert one(entry, "o") == 'Wessex *()\\,+"<>;= Council'
    _agrees(entry, directory.lookup.lookup(str(special.address)))
    # Reading back by an escaped filter finds exactly that one entry (no wildcard match).
    exact = published(slapd, next(any_of("clearanceAddress", [str(starry.address)])))
    assert [one(e, "clearanceAddress") for e in exact] == [starry.address]
    # Sync reads them back by escaped filters, and removes them.
    reg.remove_recipient(ADMIN, special.id)
    reg.remove_recipient(ADMIN, starry.id)
    report = publisher.sync()
    assert report.deleted == 2
    assert special.address not in _recipients(slapd)


def _self_signed(email: str, clock: FrozenClock, days: int = 365) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, email)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(clock.now - timedelta(days=1))
        .not_valid_after(clock.now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificates_are_published_and_revocation_removes_them(
    slapd: Slapd, directory: Directory, clock: FrozenClock
) -> None:
    demo.seed(directory)
    publisher = LDAPPublisher(directory, target(slapd))
    publisher.publish()
    entry = directory.store.mailbox_entry("j.smith@wessex.gov.uk")
    assert entry is not None
    der = _self_signed("j.smith@wessex.gov.uk", clock)
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    with directory.store.write("test", clock.now) as w:
        w.insert(
            t.certificates,
            {
                "serial": serial,
                "recipient_id": entry.id,
                "email": "j.smith@wessex.gov.uk",
                "not_before": clock.now - timedelta(days=1),
                "not_after": clock.now + timedelta(days=365),
                "der": der,
                "revoked_at": None,
                "revocation_reason": None,
            },
            "certificate.issue",
        )
    report = publisher.sync()
    assert report.modified == 1 and report.operations == 2
    found = published(
        slapd,
        "(clearanceAddress=j.smith@wessex.gov.uk)",
        "userCertificate;binary",
        "userSMIMECertificate",
    )[0]
    assert found["userCertificate;binary"] == [der]
    smime = found["userSMIMECertificate"][0]
    assert isinstance(smime, bytes)
    certs = pkcs7.load_der_pkcs7_certificates(smime)
    assert [c.public_bytes(serialization.Encoding.DER) for c in certs] == [der]
    with directory.store.write("test", clock.now) as w:
        w.update(t.certificates, serial, {"revoked_at": clock.now}, "certificate.revoke")
    publisher.sync()
    after = published(slapd, "(clearanceAddress=j.smith@wessex.gov.uk)", "userCertificate;binary")
    assert "userCertificate;binary" not in after[0]


def test_the_ca_entry_carries_the_certificate_and_crl(
    slapd: Slapd, directory: Directory, clock: FrozenClock
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Clearance CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(clock.now - timedelta(days=1))
        .not_valid_after(clock.now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(clock.now)
        .next_update(clock.now + timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    ca_der = ca.public_bytes(serialization.Encoding.DER)
    crl_der = crl.public_bytes(serialization.Encoding.DER)
    LDAPPublisher(directory, target(slapd), ca_certificate=ca_der, crl=crl_der).publish()
    entry = published(
        slapd, "(objectClass=pkiCA)", "cACertificate;binary", "certificateRevocationList;binary"
    )[0]
    assert entry["cACertificate;binary"] == [ca_der]
    assert entry["certificateRevocationList;binary"] == [crl_der]


def test_postfix_ldap_table_returns_the_max_classification(
    slapd: Slapd, directory: Directory, tmp_path: Path
) -> None:
    postmap = require_tool("postmap", "/usr/sbin/postmap")
    demo.seed(directory)
    wessex = next(o for o in directory.store.organisations() if o.name == "Wessex County Council")
    directory.registration.add_recipient(ADMIN, wessex.id, address=STARRY)
    LDAPPublisher(directory, target(slapd)).publish()
    shipped = (ROOT / "config" / "ldap" / "postfix-ldap-table.cf").read_text()
    config = shipped.replace("ldap://127.0.0.1:389", slapd.url).replace(
        "dc=clearance,dc=example", BASE
    )
    cf = tmp_path / "clearance-ldap.cf"
    cf.write_text(config)

    def query(address: str) -> str | None:
        done = subprocess.run(
            [postmap, "-c", str(_postfix_config(tmp_path)), "-q", address, f"ldap:{cf}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode == 1:
            return None
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    for address in (
        "j.smith@wessex.gov.uk",
        "alerts@casterbridge.gov.uk",
        "anyone@wessex.gov.uk",
        "someone@dcs.gov.uk",
        STARRY,
    ):
        assert query(address) == directory.lookup.lookup(address)["max_classification"], address
    assert query("noreply@wessex.gov.uk") is None  # excluded from the domain-wide entry
    assert query("nobody@example.org") is None  # unknown
    assert query("ops@anglebury-cases.co.uk") is None  # suspended
    assert query("*@wessex.gov.uk") == query("anyone@wessex.gov.uk")  # no wildcard injection
    assert query("a*@wessex.gov.uk") == query("anyone@wessex.gov.uk")


def _postfix_config(tmp_path: Path) -> Path:
    """A minimal Postfix config directory, so postmap runs without /etc/postfix."""
    folder = tmp_path / "postfix"
    folder.mkdir(exist_ok=True)
    (folder / "main.cf").write_text("compatibility_level = 3.6\nmaillog_file = /dev/stdout\n")
    return folder
