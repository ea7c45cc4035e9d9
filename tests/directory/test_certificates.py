"""Certificates for recipients: who gets which type, the lookup lists only valid unrevoked ones,
the policy's certificate requirement, revocation on suspension, CRL and OCSP status."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from directory import certificates as certs
from directory import demo
from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from pki.errors import PkiError
from pki.status import Good, Revoked, Unknown
from tests.conftest import ADMIN, FrozenClock

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def seeded(directory: Directory) -> Directory:
    home = directory.settings.home
    (home / "ca-passphrase").write_text("correct horse battery staple 42\n")
    demo.seed(directory)
    certs.initialise_ca(directory.settings, directory.clock)
    return directory


def csr_for(address: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored by the CA")])
    )
    builder = builder.add_extension(
        x509.SubjectAlternativeName([x509.RFC822Name("attacker@evil.example")]), critical=False
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_types_follow_the_record(seeded: Directory) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    person = seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key))
    shared = seeded.certificates.issue(
        ADMIN, "children.services@wessex.gov.uk", csr=csr_for("x", key)
    )
    sponsored = seeded.certificates.issue(
        ADMIN, "support@casterbridgeyoungcarers.org.uk", csr=csr_for("x", key)
    )
    assert person.validation.value == "sponsor"
    assert shared.validation.value == "organization"
    assert sponsored.validation.value == "organization"  # sponsored charity: NTRGB-<number>
    cert = x509.load_pem_x509_certificate(person.pem.encode())
    # The CSR contributed only its key: its subject and SAN were ignored.
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.RFC822Name) == ["j.smith@wessex.gov.uk"]
    assert "ignored by the CA" not in cert.subject.rfc4514_string()
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    oids = {p.policy_identifier.dotted_string for p in policies}
    assert "2.23.140.1.5.3.3" in oids  # sponsor-validated, strict
    assert any(o.startswith("2.25.") and o.endswith(".3") for o in oids)  # accredited


def test_lookup_lists_valid_unrevoked_certificates(seeded: Directory) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key))
    answer = seeded.lookup.lookup("j.smith@wessex.gov.uk")
    assert [c["serial"] for c in answer["certificates"]] == [issued.serial_hex]
    assert answer["handling"]["encryption"] == "smime-available"
    assert answer["certificates"][0]["pem"].strip() == issued.pem.strip()
    seeded.certificates.revoke(ADMIN, issued.serial_hex, "keyCompromise")
    answer = seeded.lookup.lookup("j.smith@wessex.gov.uk")
    assert answer["certificates"] == []
    assert answer["handling"]["encryption"] == "none"


def test_expired_certificate_is_not_listed(seeded: Directory, clock: FrozenClock) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    seeded.certificates.issue(
        ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key), validity_days=30
    )
    assert seeded.lookup.lookup("j.smith@wessex.gov.uk")["certificates"]
    clock.advance(days=31)
    assert seeded.lookup.lookup("j.smith@wessex.gov.uk")["certificates"] == []


def test_unverified_recipient_or_inactive_org_gets_nothing(seeded: Directory) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    before = len(seeded.store.audit_entries(limit=100000))
    with pytest.raises(DirectoryError) as err:  # Melchester Food Bank: applied, unverified
        seeded.certificates.issue(ADMIN, "someone@melchesterfoodbank.org.uk", csr=csr_for("x", key))
    assert err.value.kind is ErrorKind.NOT_FOUND  # no mailbox entry at all
    org = next(o for o in seeded.store.organisations() if o.name.startswith("Wessex Police"))
    seeded.registration.set_status(ADMIN, org.id, "suspended", "test")
    before = len(seeded.store.audit_entries(limit=100000))
    with pytest.raises(DirectoryError) as err:
        seeded.certificates.issue(ADMIN, "d.morgan@wessex.police.uk", csr=csr_for("x", key))
    assert err.value.kind is ErrorKind.CONFLICT
    assert len(seeded.store.audit_entries(limit=100000)) == before


def test_bad_csr_and_weak_key_are_refused(seeded: Directory) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(PkiError) as err:
        seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", weak))
    assert err.value.kind == "weak-key"
    good = csr_for("x", ec.generate_private_key(ec.SECP256R1()))
    tampered = bytearray(x509.load_pem_x509_csr(good).public_bytes(serialization.Encoding.DER))
    tampered[-3] ^= 0xFF  # break the signature
    with pytest.raises(PkiError) as err:
        seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=bytes(tampered))
    assert err.value.kind == "malformed"
    with pytest.raises(PkiError):
        seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=good, validity_days=826)


def test_suspension_revokes_and_status_follows(seeded: Directory, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = seeded.certificates.issue(ADMIN, "d.morgan@wessex.police.uk", csr=csr_for("x", key))
    assert seeded.certificates.status(issued.serial) == Good()
    assert seeded.certificates.status(issued.serial + 1) == Unknown()
    org = next(o for o in seeded.store.organisations() if o.name == "Wessex Police")
    seeded.registration.set_status(ADMIN, org.id, "suspended", "investigation")
    status = seeded.certificates.status(issued.serial)
    assert isinstance(status, Revoked)
    assert status.reason.value == "privilegeWithdrawn"
    crl = x509.load_der_x509_crl(seeded.certificates.crl())
    assert crl.get_revoked_certificate_by_serial_number(issued.serial) is not None
    assert crl.next_update_utc - crl.last_update_utc <= timedelta(days=10)


def test_revocation_reasons_are_the_brs(seeded: Directory) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key))
    for bad in ("unspecified", "certificateHold", "nonsense"):
        with pytest.raises(DirectoryError) as err:
            seeded.certificates.revoke(ADMIN, issued.serial_hex, bad)
        assert err.value.kind is ErrorKind.MALFORMED
    with pytest.raises(DirectoryError) as err:
        seeded.certificates.revoke(ADMIN, "zz", "keyCompromise")
    assert err.value.kind is ErrorKind.MALFORMED
    with pytest.raises(DirectoryError) as err:
        seeded.certificates.revoke(ADMIN, "abcdef", "keyCompromise")
    assert err.value.kind is ErrorKind.NOT_FOUND


def test_crl_numbers_increase_and_reissue_on_revocation(seeded: Directory) -> None:
    first = x509.load_der_x509_crl(seeded.certificates.crl())
    again = x509.load_der_x509_crl(seeded.certificates.crl())
    number = first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number
    key = ec.generate_private_key(ec.SECP256R1())
    issued = seeded.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key))
    seeded.directory_clock = None  # type: ignore[attr-defined]
    seeded.certificates.revoke(ADMIN, issued.serial_hex, "superseded")
    newer = x509.load_der_x509_crl(seeded.certificates.crl())
    assert newer.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
    assert newer.get_revoked_certificate_by_serial_number(issued.serial) is not None


def test_policy_certificate_requirement_is_met_only_by_a_valid_certificate(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A policy whose OFFICIAL-SENSITIVE requires a certificate: permitted only while the
    recipient holds a valid, unrevoked one."""
    import shutil

    from tests.conftest import make_directory

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "config", config)
    policy = config / "policies" / "uk-gsc.toml"
    text = policy.read_text().replace(
        "mailbox_verified = false\ncertificate = false",
        "mailbox_verified = false\ncertificate = true",
    )
    assert "certificate = true" in text
    policy.write_text(text)
    import os

    os.environ["CLEARANCE_CONFIG_DIR"] = str(config)
    try:
        d = make_directory(tmp_path, clock)
    finally:
        del os.environ["CLEARANCE_CONFIG_DIR"]
    try:
        (d.settings.home / "ca-passphrase").write_text("correct horse battery staple 42\n")
        demo.seed(d)
        certs.initialise_ca(d.settings, d.clock)
        before = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE", lambda _o: True)
        assert before["permitted"] is False
        assert {r["code"] for r in before["reasons"]} >= {"certificate.none-valid"}
        assert before["handling"]["encryption"] == "smime-unavailable"
        key = ec.generate_private_key(ec.SECP256R1())
        issued = d.certificates.issue(ADMIN, "j.smith@wessex.gov.uk", csr=csr_for("x", key))
        after = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
        assert after["permitted"] is True
        assert after["handling"]["encryption"] == "smime-required"
        d.certificates.revoke(ADMIN, issued.serial_hex, "keyCompromise")
        again = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
        assert again["permitted"] is False
    finally:
        d.close()
