"""Certificate signing requests: the CSR contributes its public key and nothing else.

Its signature (proof of possession) is verified; its subject, attributes and requested
extensions are ignored on purpose (Lemur copied CSR extensions into certificates: do not).
"""

from __future__ import annotations

from cryptography import x509

from pki.errors import PkiError, PkiErrorKind
from pki.keys import PublicKey, check_public_key

MAX_CSR_BYTES = 16 * 1024


def public_key_from_csr(data: bytes) -> PublicKey:
    """Parse a PEM or DER PKCS#10 request, verify its signature, check and return its key."""
    if not data or len(data) > MAX_CSR_BYTES:
        raise PkiError(PkiErrorKind.MALFORMED, f"CSR must be 1-{MAX_CSR_BYTES} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError:
        raise PkiError(
            PkiErrorKind.MALFORMED, "not a PKCS#10 certificate signing request"
        ) from None
    try:
        key = csr.public_key()
    except (ValueError, TypeError):
        raise PkiError(
            PkiErrorKind.UNSUPPORTED_KEY, "the CSR's public key type is not supported"
        ) from None
    checked = check_public_key(key)
    try:
        valid = csr.is_signature_valid
    except Exception:  # unsupported signature algorithms raise from inside cryptography
        valid = False
    if not valid:
        raise PkiError(
            PkiErrorKind.MALFORMED, "the CSR's signature does not verify (no proof of possession)"
        )
    return checked
