from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from pki import authority as authority_module
from pki import lint as lint_module
from pki.authority import CertificateAuthority
from pki.errors import LintFinding, PkiError
from pki.hierarchy import create_ca
from pki.keys import PrivateKey
from pki.ledger import InMemoryLedger
from pki.lint import lint_smime_certificate
from pki.profiles import PkiProfile
from pki.request import BR_POLICY_OIDS, ValidationType
from pki.urls import PkiUrls
from tests.pki.helpers import (
    BASE_URL,
    FROZEN,
    P12_PASSPHRASE,
    PASSPHRASE,
    FrozenClock,
    make_csr,
    make_request,
)

KEY_KINDS = ["ec", "ec384", "rsa2048", "rsa3072", "ed25519"]


def _policies(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    return [p.policy_identifier.dotted_string for p in ext]


@pytest.mark.parametrize("validation", list(ValidationType))
@pytest.mark.parametrize("kind", KEY_KINDS)
def test_issue_every_type_and_key(
    ca: CertificateAuthority,
    ledger: InMemoryLedger,
    keys: dict[str, PrivateKey],
    validation: ValidationType,
    kind: str,
) -> None:
    issued = ca.issue(make_request(validation, csr=make_csr(keys[kind])), ledger)
    cert = x509.load_der_x509_certificate(issued.der)
    # pkilint, the same linter as the gate: nothing at WARNING or above
    assert lint_smime_certificate(issued.der, validation) == []
    cert.verify_directly_issued_by(ca.issuing_certificate)
    assert cert.public_key() == keys[kind].public_key()
    assert _policies(cert) == [BR_POLICY_OIDS[validation], ca.profile.trust_level_oid("accredited")]
    assert cert.issuer == ca.issuing_certificate.subject
    assert issued.not_before == FROZEN
    assert cert.not_valid_before_utc == FROZEN
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365, seconds=-1)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert ku.value.key_encipherment == isinstance(keys[kind], rsa.RSAPrivateKey)
    assert ku.value.key_agreement == isinstance(keys[kind], ec.EllipticCurvePrivateKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["j.smith@council.gov.uk"]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [f"{BASE_URL}/ocsp", f"{BASE_URL}/issuing.cer"]
    crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crldp[0].full_name == [x509.UniformResourceIdentifier(f"{BASE_URL}/issuing.crl")]


def test_serial_is_random_20_octets(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    serials = {
        ca.issue(make_request(ValidationType.MAILBOX, csr=csr), ledger).serial for _ in range(20)
    }
    assert len(serials) == 20
    for serial in serials:
        assert 1 << 64 <= serial < 1 << 159


def test_lint_gate_records_precert_with_identical_tbs(
    ca: CertificateAuthority, ledger: InMemoryLedger, keys: dict[str, PrivateKey]
) -> None:
    issued = ca.issue(make_request(ValidationType.SPONSOR, csr=make_csr(keys["rsa2048"])), ledger)
    entry = ledger.entries[issued.serial]
    assert entry.certificate == issued.der
    assert entry.precertificate is not None and entry.precertificate != issued.der
    precert = x509.load_der_x509_certificate(entry.precertificate)
    cert = x509.load_der_x509_certificate(issued.der)
    assert precert.tbs_certificate_bytes == cert.tbs_certificate_bytes
    # the linted copy was signed by a throwaway key, not by the issuing CA
    with pytest.raises(InvalidSignature):
        precert.verify_directly_issued_by(ca.issuing_certificate)


def test_csr_contributes_only_its_key(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = make_csr(key, email="attacker@evil.example.com")
    cert = x509.load_der_x509_certificate(
        ca.issue(make_request(ValidationType.MAILBOX, csr=csr), ledger).der
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["j.smith@council.gov.uk"]
    assert not cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)


def test_findings_refuse_issuance(
    ca: CertificateAuthority, ledger: InMemoryLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = LintFinding("ERROR", "cabf.smime.example", "made up")
    monkeypatch.setattr(lint_module, "lint_smime_certificate", lambda der, vt: [finding])
    with pytest.raises(PkiError) as caught:
        ca.issue(
            make_request(
                ValidationType.MAILBOX, generate_key="ec-p256", pkcs12_passphrase=P12_PASSPHRASE
            ),
            ledger,
        )
    assert caught.value.kind == "lint-failed"
    assert caught.value.findings == (finding,)
    # the serial was reserved, nothing was recorded or issued under it
    (entry,) = ledger.entries.values()
    assert entry.precertificate is None and entry.certificate is None


def test_validity_limits(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    for days in (826, 825, 0, -1):
        with pytest.raises(PkiError) as caught:
            ca.issue(make_request(ValidationType.MAILBOX, csr=csr, validity_days=days), ledger)
        assert caught.value.kind == "malformed"
    assert not ledger.entries  # refused before a serial was reserved
    issued = ca.issue(make_request(ValidationType.MAILBOX, csr=csr, validity_days=824), ledger)
    assert issued.not_after - issued.not_before == timedelta(days=824, seconds=-1)


def test_request_problems_are_refused(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    bad = [
        make_request(ValidationType.MAILBOX),  # neither CSR nor generate
        make_request(ValidationType.MAILBOX, csr=csr, generate_key="ec-p256"),  # both
        make_request(ValidationType.MAILBOX, generate_key="ec-p256"),  # no PKCS#12 passphrase
        make_request(ValidationType.MAILBOX, generate_key="ec-p256", pkcs12_passphrase=b"short"),
        make_request(ValidationType.MAILBOX, csr=csr, trust_level="none"),
        make_request(ValidationType.MAILBOX, csr=csr, email="root@localhost"),
        make_request(ValidationType.ORGANIZATION, csr=csr, organization_identifier=None),
    ]
    for request in bad:
        with pytest.raises(PkiError) as caught:
            ca.issue(request, ledger)
        assert caught.value.kind == "malformed", request
    with pytest.raises(PkiError) as weak:
        ca.issue(
            make_request(
                ValidationType.MAILBOX, csr=make_csr(rsa.generate_private_key(65537, 1024))
            ),
            ledger,
        )
    assert weak.value.kind == "weak-key"
    assert not ledger.entries


def test_profile_restricts_csr_key_types(tmp_path: Path) -> None:
    clock = FrozenClock()
    profile = PkiProfile(allowed_keys=frozenset({"ec-p256"}))
    create_ca(tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL), clock=clock)
    authority = CertificateAuthority.load(
        tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL), clock=clock
    )
    csr = make_csr(rsa.generate_private_key(65537, 2048))
    with pytest.raises(PkiError) as caught:
        authority.issue(make_request(ValidationType.MAILBOX, csr=csr), InMemoryLedger())
    assert caught.value.kind == "unsupported-key"


def test_generated_key_comes_as_pkcs12(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    issued = ca.issue(
        make_request(
            ValidationType.ORGANIZATION, generate_key="ec-p256", pkcs12_passphrase=P12_PASSPHRASE
        ),
        ledger,
    )
    assert issued.pkcs12 is not None
    assert "pkcs12" not in repr(issued)
    bundle = pkcs12.load_pkcs12(issued.pkcs12, P12_PASSPHRASE)
    assert bundle.cert is not None and bundle.key is not None
    assert (
        bundle.cert.certificate.public_bytes(
            __import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
            ).Encoding.DER
        )
        == issued.der
    )
    assert bundle.key.public_key() == bundle.cert.certificate.public_key()
    assert [c.certificate for c in bundle.additional_certs] == [
        ca.issuing_certificate,
        ca.root_certificate,
    ]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(issued.pkcs12, b"wrong passphrase here")


def test_generated_ed25519_is_refused(ca: CertificateAuthority, ledger: InMemoryLedger) -> None:
    with pytest.raises(PkiError) as caught:
        ca.issue(
            make_request(
                ValidationType.MAILBOX, generate_key="ed25519", pkcs12_passphrase=P12_PASSPHRASE
            ),
            ledger,
        )
    assert caught.value.kind == "unsupported-key"


def test_duplicate_serial_is_a_conflict(
    ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = InMemoryLedger()
    monkeypatch.setattr(authority_module, "random_serial", lambda: 1 << 100)
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    ca.issue(make_request(ValidationType.MAILBOX, csr=csr), ledger)
    with pytest.raises(PkiError) as caught:
        ca.issue(make_request(ValidationType.MAILBOX, csr=csr), ledger)
    assert caught.value.kind == "conflict"


def test_mailbox_with_empty_subject_has_critical_san(tmp_path: Path) -> None:
    clock = FrozenClock()
    profile = PkiProfile(mailbox_subject_email=False)
    create_ca(tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL), clock=clock)
    authority = CertificateAuthority.load(
        tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL), clock=clock
    )
    issued = authority.issue(
        make_request(ValidationType.MAILBOX, csr=make_csr(ed25519.Ed25519PrivateKey.generate())),
        InMemoryLedger(),
    )
    cert = x509.load_der_x509_certificate(issued.der)
    assert len(cert.subject) == 0
    assert cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).critical


def test_repr_does_not_show_keys(ca: CertificateAuthority) -> None:
    assert "key" not in repr(ca).lower()
    assert not any(
        isinstance(getattr(ca, name), ec.EllipticCurvePrivateKey)
        for name in dir(ca)
        if not name.startswith("_")
    )
