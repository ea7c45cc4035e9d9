"""Our checks for the S/MIME BR ballots pkilint does not lint yet (pki/br_checks.py): each fed a
certificate or CRL that breaks it, built here with `cryptography`, and the CA's gate seen to
refuse issuance (nothing recorded) when its own output would break it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import univ
from pyasn1_alt_modules import rfc5280

from pki import authority as authority_module
from pki.authority import CertificateAuthority
from pki.br_checks import check_crl, check_root, check_subordinate_ca, check_subscriber
from pki.errors import PkiError
from pki.ledger import InMemoryLedger
from pki.request import ValidationType
from tests.pki.helpers import make_csr, make_key, make_request

NOW = datetime(2026, 12, 4, tzinfo=UTC)
EMAIL = ExtendedKeyUsageOID.EMAIL_PROTECTION
KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(
    *,
    ekus: list[x509.ObjectIdentifier] | None = (EMAIL,),  # type: ignore[assignment]
    days: float = 365,
    algorithm: hashes.HashAlgorithm = hashes.SHA256(),
    key: Any = KEY,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=days) - timedelta(seconds=1))
    )
    if ekus is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    return builder.sign(key, algorithm)


def sha1_signed(der_tbs: bytes, key: Any, spec: Any) -> tuple[Any, Any, bytes]:
    """(the TBS with its signature algorithm set to SHA-1's, that algorithm, the signature):
    cryptography no longer signs certificates or CRLs with SHA-1, so this does it by hand."""
    ecdsa = isinstance(key, ec.EllipticCurvePrivateKey)
    algorithm = rfc5280.AlgorithmIdentifier()
    algorithm["algorithm"] = univ.ObjectIdentifier(
        "1.2.840.10045.4.1" if ecdsa else "1.2.840.113549.1.1.5"
    )
    if not ecdsa:
        algorithm["parameters"] = univ.Null("")
    tbs, _ = der_decoder.decode(der_tbs, asn1Spec=spec)
    tbs["signature"] = algorithm
    data = der_encoder.encode(tbs)
    if ecdsa:
        signature = key.sign(data, ec.ECDSA(hashes.SHA1()))
    else:
        signature = key.sign(data, asym_padding.PKCS1v15(), hashes.SHA1())
    return tbs, algorithm, signature


def sha1_certificate(cert: x509.Certificate, key: Any) -> x509.Certificate:
    """The same certificate, signed by `key` with SHA-1."""
    tbs, algorithm, signature = sha1_signed(
        cert.tbs_certificate_bytes, key, rfc5280.TBSCertificate()
    )
    out = rfc5280.Certificate()
    out["tbsCertificate"] = tbs
    out["signatureAlgorithm"] = algorithm
    out["signature"] = univ.BitString.fromOctetString(signature)
    return x509.load_der_x509_certificate(der_encoder.encode(out))


def sha1_crl(issuer: x509.Name, key: Any) -> bytes:
    """A CRL by `issuer`, signed by `key` with SHA-1."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    tbs, algorithm, signature = sha1_signed(crl.tbs_certlist_bytes, key, rfc5280.TBSCertList())
    out = rfc5280.CertificateList()
    out["tbsCertList"] = tbs
    out["signatureAlgorithm"] = algorithm
    out["signature"] = univ.BitString.fromOctetString(signature)
    return der_encoder.encode(out)


def codes(findings: list[Any]) -> list[str]:
    return [f.code for f in findings]


def test_a_compliant_certificate_passes_every_check() -> None:
    assert check_subscriber(certificate()) == []
    assert check_subscriber(certificate(ekus=[EMAIL, ExtendedKeyUsageOID.CLIENT_AUTH])) == []
    assert check_subordinate_ca(certificate()) == []
    assert check_subscriber(certificate(days=825)) == []


@pytest.mark.parametrize(
    ("ekus", "code"),
    [
        (None, "clearance.smime.eku_missing_email_protection"),
        ([ExtendedKeyUsageOID.CLIENT_AUTH], "clearance.smime.eku_missing_email_protection"),
        ([EMAIL, ExtendedKeyUsageOID.SERVER_AUTH], "clearance.smime.eku_not_allowed"),
        ([EMAIL, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], "clearance.smime.eku_not_allowed"),
        ([EMAIL, ExtendedKeyUsageOID.CODE_SIGNING], "clearance.smime.eku_not_allowed"),
    ],
)
def test_smc018_only_email_protection_and_client_auth(
    ekus: list[x509.ObjectIdentifier] | None, code: str
) -> None:
    for check in (check_subscriber, check_subordinate_ca):
        found = check(certificate(ekus=ekus))
        assert code in codes(found) and all(f.severity == "ERROR" for f in found)
        assert any("SMC018" in (f.message or "") for f in found)


@pytest.mark.parametrize(
    "key", [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)]
)
def test_smc016_no_sha1_signature(key: Any) -> None:
    signed = sha1_certificate(certificate(key=key), key)
    assert isinstance(signed.signature_hash_algorithm, hashes.SHA1)
    for check in (check_subscriber, check_subordinate_ca, check_root):
        assert codes(check(signed)) == ["clearance.smime.sha1_signature"]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    assert codes(check_crl(sha1_crl(name, key))) == ["clearance.smime.sha1_signature"]
    good = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    assert check_crl(good) == []
    assert codes(check_crl(b"not a crl")) == ["clearance.undecodable"]


def test_subscriber_validity_at_most_825_days() -> None:
    assert codes(check_subscriber(certificate(days=826))) == ["clearance.smime.validity_too_long"]
    assert check_subordinate_ca(certificate(days=3650)) == []  # a CA's own rule, not this one


# --- the gate: the CA refuses to issue what breaks a check, and records nothing ----------------
def refused(ca: CertificateAuthority, code: str) -> None:
    ledger = InMemoryLedger()
    request = make_request(ValidationType.MAILBOX, csr=make_csr(make_key("ec")))
    with pytest.raises(PkiError) as caught:
        ca.issue(request, ledger)
    assert caught.value.kind == "lint-failed"
    assert code in [f.code for f in caught.value.findings]
    # the serial was reserved; nothing was signed with the issuing key or recorded as issued
    assert [(e.precertificate, e.certificate) for e in ledger.entries.values()] == [(None, None)]


def test_the_gate_refuses_a_certificate_with_another_eku(
    ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CertificateAuthority._builder

    def with_server_auth(self: CertificateAuthority, *args: Any) -> x509.CertificateBuilder:
        builder = original(self, *args)
        extensions = [e for e in builder._extensions if e.oid != x509.ExtendedKeyUsage.oid]
        builder._extensions = extensions  # type: ignore[misc]
        return builder.add_extension(
            x509.ExtendedKeyUsage([EMAIL, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )

    monkeypatch.setattr(CertificateAuthority, "_builder", with_server_auth)
    refused(ca, "clearance.smime.eku_not_allowed")


def test_the_gate_refuses_a_sha1_signature(
    ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cryptography no longer signs with SHA-1; were the signing path ever to (another library,
    a changed profile), the gate still refuses: the copy it lints is re-signed with SHA-1."""
    original = x509.CertificateBuilder.sign

    def sign_sha1(self: x509.CertificateBuilder, key: Any, *args: Any, **kw: Any) -> Any:
        return sha1_certificate(original(self, key, *args, **kw), key)

    monkeypatch.setattr(x509.CertificateBuilder, "sign", sign_sha1)
    refused(ca, "clearance.smime.sha1_signature")


def test_the_gate_refuses_a_validity_over_825_days(
    ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CertificateAuthority, "_validity_days", lambda self, request: 826)
    refused(ca, "clearance.smime.validity_too_long")


def test_the_gate_refuses_a_sha1_crl(
    ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sha1_build_crl(*, issuer: x509.Certificate, key: Any, **_: Any) -> bytes:
        return sha1_crl(issuer.subject, key)

    assert ca.build_crl([], 7)  # as made: passes
    monkeypatch.setattr(authority_module, "build_crl", sha1_build_crl)
    with pytest.raises(PkiError) as caught:
        ca.build_crl([], 8)
    assert caught.value.kind == "lint-failed"
    assert [f.code for f in caught.value.findings] == ["clearance.smime.sha1_signature"]


def test_a_new_ca_is_checked_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pki import hierarchy
    from pki.profiles import PkiProfile
    from pki.urls import PkiUrls
    from tests.pki.helpers import BASE_URL, PASSPHRASE, FrozenClock

    original = hierarchy.build_issuing

    def sha1_issuing(key: Any, root: Any, root_key: Any, *args: Any) -> x509.Certificate:
        return sha1_certificate(original(key, root, root_key, *args), root_key)

    monkeypatch.setattr(hierarchy, "build_issuing", sha1_issuing)
    with pytest.raises(PkiError) as caught:
        hierarchy.create_ca(
            tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), urls=PkiUrls(BASE_URL),
            clock=FrozenClock(),
        )  # fmt: skip
    assert caught.value.kind == "lint-failed"
    assert "clearance.smime.sha1_signature" in [f.code for f in caught.value.findings]
    assert not any((tmp_path / "ca").iterdir())
