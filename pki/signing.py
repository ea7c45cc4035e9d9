"""Detached Ed25519 signatures over opaque bytes (federation trust lists), and the signing key.

Pure: no files, no settings. The key is stored as encrypted PKCS#8 PEM (the same passphrase
rules as the CA keys); a public key is named by its key id, `sha256:<hex of the SPKI DER>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pki.errors import PkiError, PkiErrorKind
from pki.keys import check_passphrase

SigningKey = ed25519.Ed25519PrivateKey
VerifyKey = ed25519.Ed25519PublicKey
MAX_PUBLIC_KEY_PEM = 4096
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def generate_signing_key() -> SigningKey:
    return ed25519.Ed25519PrivateKey.generate()


def encrypt_signing_key(key: SigningKey, passphrase: str | bytes) -> bytes:
    """PEM PKCS#8, always encrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(check_passphrase(passphrase)),
    )


def load_signing_key(pem: bytes, passphrase: str | bytes, source: str) -> SigningKey:
    """An encrypted Ed25519 key: wrong passphrase -> `unauthorized`, anything else `malformed`."""
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: the signing key is not encrypted")
    secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
    try:
        key = serialization.load_pem_private_key(pem, password=secret)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise PkiError(PkiErrorKind.UNAUTHORIZED, f"{source}: wrong passphrase") from None
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: cannot load the signing key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, f"{source}: not an Ed25519 key")
    return key


def public_key_pem(key: SigningKey | VerifyKey) -> str:
    public = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes) -> VerifyKey:
    """An Ed25519 public key from SPKI PEM; anything else is `malformed`/`unsupported-key`."""
    raw = pem.encode("utf-8") if isinstance(pem, str) else pem
    if len(raw) > MAX_PUBLIC_KEY_PEM:
        raise PkiError(
            PkiErrorKind.MALFORMED, "the public key file is too large to be one public key"
        )
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PkiError(
            PkiErrorKind.MALFORMED, "not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        ) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise PkiError(
            PkiErrorKind.UNSUPPORTED_KEY, f"the public key is {type(key).__name__}, not Ed25519"
        )
    return key


def key_id(key: SigningKey | VerifyKey) -> str:
    """`sha256:<hex>` of the public key's SubjectPublicKeyInfo DER."""
    public = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def sign(key: SigningKey, payload: bytes) -> bytes:
    return key.sign(payload)


def verify(key: VerifyKey, payload: bytes, signature: bytes) -> None:
    """Raise `PkiError(unauthorized)` unless the signature is the key's over exactly payload."""
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        raise PkiError(
            PkiErrorKind.UNAUTHORIZED, "the signature does not verify with the key"
        ) from None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str, what: str) -> bytes:
    """Strict base64url (padding optional); `malformed` on anything else."""
    if not isinstance(text, str) or not text.isascii():
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is not base64url text")
    if _B64URL.fullmatch(text) is None:
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is not base64url (A-Z a-z 0-9 - _ only)")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError):
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is not valid base64url") from None
