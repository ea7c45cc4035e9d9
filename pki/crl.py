"""Certificate revocation lists, encoded directly in DER and signed with the CA key.

One CRL per CA, full (not partitioned): version 2, the CA's AKI and a CRLNumber, thisUpdate and
nextUpdate at most 10 days apart (S/MIME BR 4.9.7; an ARL, the root's list of revoked CAs, may
span 365 days). Entry reasons are only those the S/MIME BR allow (see `pki.status`); an
unspecified reason is written as no reasonCode at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki import der
from pki.errors import PkiError, PkiErrorKind
from pki.keys import CaPrivateKey, signature_hash
from pki.status import RevocationReason

RevokedEntry = tuple[int, datetime, RevocationReason]

MAX_CRL_SPAN = timedelta(days=10)
MAX_ARL_SPAN = timedelta(days=365)
MAX_CRL_NUMBER = (1 << 159) - 1  # RFC 5280 5.2.3: at most 20 octets

_OID_AKI = "2.5.29.35"
_OID_CRL_NUMBER = "2.5.29.20"
_OID_REASON = "2.5.29.21"
_SIGNATURE_ALGORITHMS = {
    ("ec", "SHA256"): bytes.fromhex("300a06082a8648ce3d040302"),
    ("ec", "SHA384"): bytes.fromhex("300a06082a8648ce3d040303"),
    ("rsa", "SHA256"): bytes.fromhex("300d06092a864886f70d01010b0500"),
}
_REASON_EXTENSIONS: dict[RevocationReason, bytes] = {
    reason: der.sequence(der.extension(_OID_REASON, der.enumerated(reason.code)))
    for reason in RevocationReason
    if reason.code is not None
}


def signature_algorithm(key: CaPrivateKey) -> bytes:
    """The DER AlgorithmIdentifier this CA key signs with."""
    digest = signature_hash(key)
    family = "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    algorithm = _SIGNATURE_ALGORITHMS.get((family, digest.name.upper() if digest else ""))
    if algorithm is None:
        raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, "this CA key type cannot sign CRLs")
    return algorithm


def sign_der(key: CaPrivateKey, data: bytes) -> bytes:
    """A signature over `data` with the CA key's algorithm (in-process signing only)."""
    digest = signature_hash(key)
    if digest is None:
        raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, "this CA key type cannot sign")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), digest)
    raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, "this CA key type cannot sign")


def _entry(serial: int, revoked_at: datetime, reason: RevocationReason) -> bytes:
    if not 0 < serial <= MAX_CRL_NUMBER:
        raise PkiError(
            PkiErrorKind.MALFORMED, f"serial {serial} is not a positive 20-octet integer"
        )
    if not isinstance(reason, RevocationReason):
        reason = RevocationReason.parse(str(reason))
    if revoked_at.tzinfo is None:
        raise PkiError(PkiErrorKind.MALFORMED, "revocation times must be timezone-aware")
    extensions = _REASON_EXTENSIONS.get(reason, b"")
    return der.sequence(der.integer(serial), der.time(revoked_at), extensions)


def build_crl(
    *,
    issuer: x509.Certificate,
    key: CaPrivateKey,
    number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: Iterable[RevokedEntry],
    authority_revocation_list: bool = False,
) -> bytes:
    """Build and sign a CRL (DER). `revoked` is (serial, revocation time, reason) tuples."""
    if not 0 <= number <= MAX_CRL_NUMBER:
        raise PkiError(PkiErrorKind.MALFORMED, f"CRL number {number} must be 0 .. 2**159-1")
    if this_update.tzinfo is None or next_update.tzinfo is None:
        raise PkiError(PkiErrorKind.MALFORMED, "thisUpdate and nextUpdate must be timezone-aware")
    this_update = this_update.replace(microsecond=0)
    next_update = next_update.replace(microsecond=0)
    span = next_update - this_update
    limit = MAX_ARL_SPAN if authority_revocation_list else MAX_CRL_SPAN
    if not timedelta(0) < span <= limit:
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"nextUpdate must be after thisUpdate and within {limit.days} days",
        )
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        raise PkiError(
            PkiErrorKind.MALFORMED, "the CRL issuer certificate has no subjectKeyIdentifier"
        ) from None

    algorithm = signature_algorithm(key)
    entries = b"".join([_entry(serial, when, reason) for serial, when, reason in revoked])
    extensions = der.explicit(
        0,
        der.sequence(
            der.extension(_OID_AKI, der.sequence(der.tlv(0x80, ski))),
            der.extension(_OID_CRL_NUMBER, der.integer(number)),
        ),
    )
    tbs = der.sequence(
        der.integer(1),
        algorithm,
        issuer.subject.public_bytes(),
        der.time(this_update),
        der.time(next_update),
        der.tlv(0x30, entries) if entries else b"",
        extensions,
    )
    return der.sequence(tbs, algorithm, der.bit_string(sign_der(key, tbs)))
