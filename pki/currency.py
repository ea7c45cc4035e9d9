"""How current the CA is with the S/MIME Baseline Requirements its profiles follow.

The profiles follow S/MIME BR v1.0.16 (ballot SMC018, 2026-09-28); docs/pki.md lists what each
ballot since v1.0.10 changed here. A CA made before a ballot keeps working where the ballot
allows it; what it should act on, and by when, is reported by `ca_warnings` (shown by
`clearance ca show` and logged when the CA is loaded).
"""

from __future__ import annotations

from datetime import date

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

BR_VERSION = "1.0.16"
BR_BALLOT = "SMC018"
CA_RSA_BITS = 4096  # SMC017: an RSA CA key generated after 2026-09-15
SMALL_CA_KEY_DEADLINE = date(2027, 9, 15)  # SMC017: issuance from smaller subordinate CA keys


def key_description(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def ca_warnings(root: x509.Certificate, issuing: x509.Certificate) -> list[str]:
    """What the CA's own keys lack against the current BR, with the date it matters by."""
    out: list[str] = []
    for role, certificate in (("issuing CA", issuing), ("root CA", root)):
        key = certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < CA_RSA_BITS:
            consequence = (
                f"from {SMALL_CA_KEY_DEADLINE.isoformat()} it may no longer issue: make a new "
                "issuing CA (ec-p384 or rsa-4096) before then"
                if role == "issuing CA"
                else "a new CA key must be ec-p384 or rsa-4096"
            )
            out.append(
                f"the {role} key is RSA {key.key_size}, made before S/MIME BR ballot SMC017 "
                f"(CA keys generated after 2026-09-15: RSA {CA_RSA_BITS} or ECDSA P-384); "
                + consequence
            )
    return out
