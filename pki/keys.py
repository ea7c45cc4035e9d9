"""Key types, key checks, key generation and encrypted key files.

Subscriber keys: RSA 2048-4096 (modulus a multiple of 8, odd exponent >= 65537), ECDSA P-256 and
P-384, Ed25519 (signing only). ECDSA P-521 is refused as `unsupported-key`: pkilint's S/MIME
linter (0.13) only allows the P-256 and P-384 SPKI encodings, so a P-521 certificate could never
pass the lint gate. CA keys: ECDSA P-384 (default), RSA 3072 or 4096.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, cast, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pki.errors import PkiError, PkiErrorKind

KeySpec = Literal["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
KEY_SPECS: tuple[str, ...] = get_args(KeySpec)
# A NEW CA key (root or issuing): S/MIME BR v1.0.16 6.1.5, ballot SMC017: an RSA CA key
# generated after 2026-09-15 is at least 4096 bits; ECDSA P-384 is unaffected.
CA_KEY_SPECS: tuple[str, ...] = ("ec-p384", "rsa-4096")
# What an existing CA may have been made with (before SMC017): it is loaded and keeps issuing,
# with a warning (pki/currency.py), but no new CA key is made so.
EXISTING_CA_KEY_SPECS: tuple[str, ...] = ("ec-p384", "rsa-3072", "rsa-4096")
CA_KEY_RULE = (
    "S/MIME BR v1.0.16 (ballot SMC017): a CA key generated after 2026-09-15 must be "
    "ECDSA P-384 (ec-p384) or RSA 4096 (rsa-4096)"
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
CaPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
ACCEPTED_KEYS = "RSA 2048-4096 bits (exponent 65537 or more), ECDSA P-256 or P-384, or Ed25519"
MIN_PASSPHRASE_LENGTH = 12
_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changeit",
        "password",
        "passphrase",
        "secret",
        "default",
        "example",
        "placeholder",
        "replaceme",
        "replace-me",
        "todo",
        "test",
        "dummy",
        "xxx",
    }
)
_CURVES: dict[str, type[ec.EllipticCurve]] = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1}


def parse_key_spec(value: str) -> KeySpec:
    """Check a key spec name such as `ec-p384`; refuse anything else as `malformed`."""
    for spec in get_args(KeySpec):
        if value == spec:
            return cast(KeySpec, spec)
    raise PkiError(
        PkiErrorKind.MALFORMED,
        f"unknown key type {value!r}; expected one of {', '.join(KEY_SPECS)}",
    )


def generate_private_key(spec: KeySpec) -> PrivateKey:
    """A fresh private key of the given spec, from the operating system's CSPRNG."""
    if spec == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if spec == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if spec == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    bits = int(spec.removeprefix("rsa-"))
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ca_key(spec: KeySpec) -> CaPrivateKey:
    """A new CA key: ECDSA P-384 or RSA 4096 (CA_KEY_RULE)."""
    if spec not in CA_KEY_SPECS:
        raise PkiError(
            PkiErrorKind.UNSUPPORTED_KEY,
            f"a new CA key cannot be {str(spec)[:40]!r}: {CA_KEY_RULE}",
        )
    key = generate_private_key(spec)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def key_spec_of(key: PublicKey | PrivateKey) -> KeySpec:
    """The spec of an existing key (after `check_public_key`)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return parse_key_spec(f"rsa-{key.key_size}")
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ec-p256" if key.curve.name == "secp256r1" else "ec-p384"
    return "ed25519"


def check_public_key(key: object) -> PublicKey:
    """Refuse keys the S/MIME BR do not allow; return the key typed as a `PublicKey`.

    weak-key: RSA below 2048 bits, modulus not a multiple of 8, even or small exponent.
    unsupported-key: RSA above 4096 bits, other curves, DSA, X25519, Ed448 ...
    """
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        exponent = key.public_numbers().e
        if bits < MIN_RSA_BITS:
            raise PkiError(
                PkiErrorKind.WEAK_KEY, f"RSA key of {bits} bits; at least {MIN_RSA_BITS} needed"
            )
        if bits % 8 != 0:
            raise PkiError(
                PkiErrorKind.WEAK_KEY, f"RSA modulus of {bits} bits is not a multiple of 8"
            )
        if bits > MAX_RSA_BITS:
            raise PkiError(
                PkiErrorKind.UNSUPPORTED_KEY,
                f"RSA key of {bits} bits; at most {MAX_RSA_BITS} allowed ({ACCEPTED_KEYS})",
            )
        if exponent % 2 == 0 or exponent < 65537:
            raise PkiError(
                PkiErrorKind.WEAK_KEY,
                f"RSA public exponent {exponent} must be odd and at least 65537",
            )
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise PkiError(
                PkiErrorKind.UNSUPPORTED_KEY,
                f"elliptic curve {key.curve.name} is not allowed; accepted: {ACCEPTED_KEYS}",
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise PkiError(
        PkiErrorKind.UNSUPPORTED_KEY,
        f"key type {type(key).__name__} is not allowed; accepted: {ACCEPTED_KEYS}",
    )


SignatureHash = hashes.SHA256 | hashes.SHA384


def signature_hash(key: PrivateKey | PublicKey) -> SignatureHash | None:
    """The hash a key signs with: SHA-384 for P-384, SHA-256 for P-256 and RSA, none for EdDSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return hashes.SHA256()
    return None


def check_passphrase(passphrase: str | bytes, what: str = "the CA passphrase") -> bytes:
    """Refuse an empty, short or placeholder passphrase; return it as UTF-8 bytes."""
    raw = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    text = raw.decode(errors="replace").strip()
    if not text:
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is empty")
    lowered = text.lower()
    if (
        lowered in _PLACEHOLDERS
        or lowered.strip("<>{}$[]*_ -") in _PLACEHOLDERS
        or (text.startswith("<") and text.endswith(">"))
        or text.startswith("${")
        or len(set(lowered)) == 1
    ):
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is a placeholder; set a real secret")
    if len(raw) < MIN_PASSPHRASE_LENGTH:
        raise PkiError(
            PkiErrorKind.MALFORMED, f"{what} must be at least {MIN_PASSPHRASE_LENGTH} bytes long"
        )
    return raw


def encrypt_private_key(key: PrivateKey, passphrase: bytes) -> bytes:
    """PEM PKCS#8 encrypted with the best available algorithm (never unencrypted)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(check_passphrase(passphrase)),
    )


def _intact_envelope(pem: bytes) -> bool:
    """Whether the PEM holds one whole DER SEQUENCE (an EncryptedPrivateKeyInfo as written)."""
    try:
        body = b"".join(
            line for line in pem.strip().splitlines() if line and not line.startswith(b"-----")
        )
        der = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error):
        return False
    if len(der) < 4 or der[0] != 0x30:
        return False
    if der[1] < 0x80:
        length, start = der[1], 2
    else:
        count = der[1] & 0x7F
        length, start = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    return start + length == len(der)


def decrypt_private_key(pem: bytes, passphrase: bytes, source: str) -> CaPrivateKey:
    """Load an encrypted CA key; wrong passphrase -> `unauthorized`, damaged file -> `malformed`."""
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: the private key is not encrypted")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # cryptography raises ValueError both for a wrong password and a damaged file; a wrong
        # password can also decrypt to garbage with valid padding (about 1 time in 256), which
        # then fails to parse: an intact envelope means the passphrase is what is wrong.
        text = str(exc).lower()
        if "password" in text or "decrypt" in text or _intact_envelope(pem):
            raise PkiError(PkiErrorKind.UNAUTHORIZED, f"{source}: wrong CA passphrase") from None
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: cannot load the private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, f"{source}: not an RSA or ECDSA key")
    return key
