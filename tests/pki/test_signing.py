"""pki.signing: Ed25519 detached signatures, key files and key ids."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki.errors import PkiError
from pki.signing import (
    b64url,
    encrypt_signing_key,
    from_b64url,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_key_pem,
    sign,
    verify,
)

PASS = "a long enough passphrase 7"


def test_sign_and_verify() -> None:
    key = generate_signing_key()
    signature = sign(key, b"payload")
    verify(load_public_key(public_key_pem(key)), b"payload", signature)
    with pytest.raises(PkiError) as caught:
        verify(key.public_key(), b"payloae", signature)
    assert caught.value.kind == "unauthorized"
    with pytest.raises(PkiError):
        verify(generate_signing_key().public_key(), b"payload", signature)


def test_key_id_is_the_sha256_of_the_spki() -> None:
    key = generate_signing_key()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(key) == key_id(key.public_key()) == "sha256:" + hashlib.sha256(der).hexdigest()


def test_key_file_round_trip_and_wrong_passphrase() -> None:
    key = generate_signing_key()
    pem = encrypt_signing_key(key, PASS)
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert key_id(load_signing_key(pem, PASS, "f")) == key_id(key)
    with pytest.raises(PkiError) as caught:
        load_signing_key(pem, PASS + "x", "f")
    assert caught.value.kind == "unauthorized"
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PkiError) as caught:
        load_signing_key(plain, PASS, "f")
    assert caught.value.kind == "malformed"
    with pytest.raises(PkiError):
        encrypt_signing_key(key, "changeme")


def test_only_ed25519_public_keys() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(PkiError) as caught:
        load_public_key(pem)
    assert caught.value.kind == "unsupported-key"
    with pytest.raises(PkiError) as caught:
        load_public_key("not a key")
    assert caught.value.kind == "malformed"
    with pytest.raises(PkiError):
        load_public_key(b"x" * 5000)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe\xfd", bytes(range(256))])
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert from_b64url(text, "x") == data


@pytest.mark.parametrize("text", ["ab+c", "ab/c", "ab c", "ab!c", "a\nb", "abc=d", "é"])
def test_b64url_is_strict(text: str) -> None:
    with pytest.raises(PkiError) as caught:
        from_b64url(text, "x")
    assert caught.value.kind == "malformed"
