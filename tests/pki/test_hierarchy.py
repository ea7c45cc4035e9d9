from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pki.authority import CertificateAuthority
from pki.currency import ca_warnings
from pki.errors import PkiError
from pki.hierarchy import create_ca, renew_ocsp_responder, sign_root_crl
from pki.ledger import InMemoryLedger
from pki.lint import lint_crl
from pki.profiles import PkiProfile
from pki.request import BR_POLICY_OIDS, ValidationType
from pki.status import RevocationReason
from pki.storage import CaPaths
from pki.urls import PkiUrls
from tests.pki.helpers import (
    BASE_URL,
    FROZEN,
    PASSPHRASE,
    FrozenClock,
    make_csr,
    make_key,
    make_request,
)

E = TypeVar("E", bound=x509.ExtensionType)


def _ext(cert: x509.Certificate, cls: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(cls)


def test_files_and_modes(session_ca_dir: tuple[Path, FrozenClock]) -> None:
    directory, _ = session_ca_dir
    paths = CaPaths(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in paths.all_files():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for key in (paths.root_key, paths.issuing_key, paths.ocsp_key):
        assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in key.read_bytes()
        assert PASSPHRASE.encode() not in key.read_bytes()


def test_root_and_issuing_profiles(ca: CertificateAuthority) -> None:
    root, issuing = ca.root_certificate, ca.issuing_certificate
    for cert in (root, issuing):
        bc = _ext(cert, x509.BasicConstraints)
        ku = _ext(cert, x509.KeyUsage)
        assert bc.critical and bc.value.ca
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == "sha384"
    assert _ext(issuing, x509.BasicConstraints).value.path_length == 0
    assert list(_ext(issuing, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.EMAIL_PROTECTION
    ]
    policies = [
        p.policy_identifier.dotted_string for p in _ext(issuing, x509.CertificatePolicies).value
    ]
    assert policies == [*BR_POLICY_OIDS.values(), *ca.profile.trust_level_oids().values()]
    crldp = _ext(issuing, x509.CRLDistributionPoints).value
    assert crldp[0].full_name == [x509.UniformResourceIdentifier(f"{BASE_URL}/root.crl")]
    aia = _ext(issuing, x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [f"{BASE_URL}/root.cer"]
    assert (
        _ext(issuing, x509.AuthorityKeyIdentifier).value.key_identifier
        == _ext(root, x509.SubjectKeyIdentifier).value.digest
    )
    issuing.verify_directly_issued_by(root)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(root, x509.CertificatePolicies)


def test_ocsp_responder_certificate(ca: CertificateAuthority) -> None:
    responder = ca.ocsp_responder_certificate
    assert list(_ext(responder, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    _ext(responder, x509.OCSPNoCheck)
    assert not _ext(responder, x509.BasicConstraints).value.ca
    responder.verify_directly_issued_by(ca.issuing_certificate)
    assert responder.not_valid_after_utc <= ca.issuing_certificate.not_valid_after_utc


def test_existing_directory_is_a_conflict(session_ca_dir: tuple[Path, FrozenClock]) -> None:
    directory, clock = session_ca_dir
    with pytest.raises(PkiError) as caught:
        create_ca(directory, PASSPHRASE, profile=PkiProfile(), urls=PkiUrls(BASE_URL), clock=clock)
    assert caught.value.kind == "conflict"


def test_placeholder_passphrase_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(PkiError) as caught:
        create_ca(
            tmp_path / "ca",
            "changeme",
            profile=PkiProfile(),
            urls=PkiUrls(BASE_URL),
            clock=FrozenClock(),
        )
    assert caught.value.kind == "malformed"
    assert not (tmp_path / "ca").exists()


def test_wrong_passphrase_and_missing_files(
    session_ca_dir: tuple[Path, FrozenClock], tmp_path: Path
) -> None:
    directory, clock = session_ca_dir
    kwargs = {"profile": PkiProfile(), "urls": PkiUrls(BASE_URL), "clock": clock}
    with pytest.raises(PkiError) as caught:
        CertificateAuthority.load(directory, "not the right passphrase", **kwargs)  # type: ignore[arg-type]
    assert caught.value.kind == "unauthorized"
    with pytest.raises(PkiError) as missing:
        CertificateAuthority.load(tmp_path, PASSPHRASE, **kwargs)  # type: ignore[arg-type]
    assert missing.value.kind == "not-found"


def test_key_file_with_open_permissions_is_refused(tmp_path: Path) -> None:
    clock = FrozenClock()
    urls = PkiUrls(BASE_URL)
    create_ca(tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), urls=urls, clock=clock)
    os.chmod(tmp_path / "ca" / "issuing.key", 0o644)
    with pytest.raises(PkiError) as caught:
        CertificateAuthority.load(
            tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), urls=urls, clock=clock
        )
    assert "permissions" in caught.value.detail


def test_rsa_hierarchy(tmp_path: Path) -> None:
    clock = FrozenClock()
    profile = PkiProfile(ca_key="rsa-4096")
    made = create_ca(
        tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL), clock=clock
    )
    assert made.issuing.public_key().key_size == 4096  # type: ignore[union-attr]
    assert lint_crl(made.root_crl, authority_revocation_list=True) == []
    assert ca_warnings(made.root, made.issuing) == []


def test_a_new_rsa_3072_ca_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    profile = PkiProfile(ca_key="rsa-3072")  # a profile from before SMC017 still loads
    with pytest.raises(PkiError) as caught:
        create_ca(
            tmp_path / "ca", PASSPHRASE, profile=profile, urls=PkiUrls(BASE_URL),
            clock=FrozenClock(),
        )  # fmt: skip
    assert caught.value.kind == "unsupported-key" and "SMC017" in caught.value.detail
    assert not (tmp_path / "ca").exists() or not any((tmp_path / "ca").iterdir())


def test_an_existing_rsa_3072_ca_keeps_issuing_and_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA made before SMC017 (RSA 3072) loads and issues; the warning names the date."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from pki import hierarchy

    def before_smc017(spec: str) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)

    monkeypatch.setattr(hierarchy, "generate_ca_key", before_smc017)
    clock = FrozenClock()
    urls = PkiUrls(BASE_URL)
    profile = PkiProfile(ca_key="rsa-3072")
    create_ca(tmp_path / "ca", PASSPHRASE, profile=profile, urls=urls, clock=clock)
    monkeypatch.undo()
    ca = CertificateAuthority.load(
        tmp_path / "ca", PASSPHRASE, profile=profile, urls=urls, clock=clock
    )
    assert ca.issuing_certificate.public_key().key_size == 3072  # type: ignore[union-attr]
    csr = make_csr(make_key("ec"))
    issued = ca.issue(make_request(ValidationType.MAILBOX, csr=csr), InMemoryLedger())
    x509.load_der_x509_certificate(issued.der).verify_directly_issued_by(ca.issuing_certificate)
    warnings = ca_warnings(ca.root_certificate, ca.issuing_certificate)
    assert len(warnings) == 2
    assert "issuing CA key is RSA 3072" in warnings[0] and "2027-09-15" in warnings[0]
    assert "root CA key is RSA 3072" in warnings[1]


def test_root_crl_and_responder_renewal(tmp_path: Path) -> None:
    clock = FrozenClock()
    urls = PkiUrls(BASE_URL)
    made = create_ca(tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), urls=urls, clock=clock)
    first = x509.load_der_x509_crl(made.root_crl)
    assert first.is_signature_valid(made.root.public_key())  # type: ignore[arg-type]
    assert first.next_update_utc is not None
    assert first.last_update_utc == FROZEN
    clock.advance(__import__("datetime").timedelta(days=30))
    with pytest.raises(PkiError) as caught:
        sign_root_crl(tmp_path / "ca", PASSPHRASE, number=1, revoked=[], clock=clock)
    assert caught.value.kind == "conflict"
    der = sign_root_crl(
        tmp_path / "ca",
        PASSPHRASE,
        number=2,
        revoked=[(made.issuing.serial_number, clock(), RevocationReason.CESSATION_OF_OPERATION)],
        clock=clock,
    )
    assert (tmp_path / "ca" / "root.crl").read_bytes() == der
    assert x509.load_der_x509_crl(der).get_revoked_certificate_by_serial_number(
        made.issuing.serial_number
    )
    renewed = renew_ocsp_responder(tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), clock=clock)
    assert renewed.serial_number != made.ocsp_responder.serial_number
    assert stat.S_IMODE((tmp_path / "ca" / "ocsp.key").stat().st_mode) == 0o600
    CertificateAuthority.load(
        tmp_path / "ca", PASSPHRASE, profile=PkiProfile(), urls=urls, clock=clock
    )


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:8000/pki",
        "https://pki.example.com",
        "http://localhost/pki",
        "http://pki.clearance.test",
        "ftp://x.example.com",
        "http://pki.example.com/a?b",
    ],
)
def test_bad_base_urls(base: str) -> None:
    with pytest.raises(PkiError) as caught:
        PkiUrls(base)
    assert caught.value.kind == "malformed"


def test_urls() -> None:
    urls = PkiUrls("http://pki.example.com:8000/pki/")
    assert urls.ocsp == "http://pki.example.com:8000/pki/ocsp"
    assert urls.issuing_crl == "http://pki.example.com:8000/pki/issuing.crl"
