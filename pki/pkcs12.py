"""PKCS#12 delivery of a generated subscriber key with its certificate and chain."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from pki.keys import PrivateKey, check_passphrase

KDF_ROUNDS = 200_000


def build_pkcs12(
    *,
    friendly_name: str,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
    passphrase: bytes,
) -> bytes:
    """PBES2 AES-256-CBC with PBKDF2-SHA256 and an HMAC-SHA256 MAC (no RC2/3DES)."""
    secret = check_passphrase(passphrase, "the PKCS#12 passphrase")
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(secret)
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), key, cert, chain, encryption
    )
