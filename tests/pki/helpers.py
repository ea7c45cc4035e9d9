"""Shared helpers for the pki tests (unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pki.authority import CertificateAuthority
from pki.hierarchy import create_ca
from pki.keys import PrivateKey
from pki.profiles import PkiProfile
from pki.request import IssueRequest, ValidationType
from pki.urls import PkiUrls
from tests.support.servers import require_tool  # noqa: F401  (re-exported)

PASSPHRASE = "correct horse battery staple"
P12_PASSPHRASE = b"a long pkcs12 passphrase"
BASE_URL = "http://pki.clearance.example.com/pki"
FROZEN = datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC)

ORG = {
    "organization_name": "Example Borough Council",
    "organization_identifier": "GOVGB",
    "country": "GB",
}
REQUEST_FIELDS: dict[ValidationType, dict[str, str]] = {
    ValidationType.MAILBOX: {},
    ValidationType.ORGANIZATION: ORG,
    ValidationType.SPONSOR: {**ORG, "given_name": "Jane", "surname": "Smith"},
}


class FrozenClock:
    """A clock tests can move by hand (Boulder's FakeClock)."""

    def __init__(self, now: datetime = FROZEN) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_key(kind: str) -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(65537, int(kind.removeprefix("rsa")))


def make_csr(key: PrivateKey, *, der: bool = False, email: str | None = None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CSR subject is ignored")])
    )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = builder.sign(key, algorithm)
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    return csr.public_bytes(encoding)


def make_request(
    validation: ValidationType,
    *,
    email: str = "j.smith@council.gov.uk",
    csr: bytes | None = None,
    **overrides: object,
) -> IssueRequest:
    fields: dict[str, object] = {
        "email": email,
        "validation": validation,
        "trust_level": "accredited",
        **REQUEST_FIELDS[validation],
    }
    if csr is not None:
        fields["csr"] = csr
    fields.update(overrides)
    return IssueRequest(**fields)  # type: ignore[arg-type]


def new_ca(
    directory: Path, clock: FrozenClock, profile: PkiProfile | None = None
) -> CertificateAuthority:
    profile = profile or PkiProfile()
    urls = PkiUrls(BASE_URL)
    create_ca(directory, PASSPHRASE, profile=profile, urls=urls, clock=clock)
    return CertificateAuthority.load(directory, PASSPHRASE, profile=profile, urls=urls, clock=clock)
