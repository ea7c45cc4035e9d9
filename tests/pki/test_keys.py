from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa, x25519

from pki.errors import PkiError
from pki.keys import (
    check_passphrase,
    check_public_key,
    decrypt_private_key,
    encrypt_private_key,
    generate_ca_key,
    key_spec_of,
    parse_key_spec,
)


@pytest.mark.parametrize("bits", [1024, 1536])
def test_small_rsa_is_weak(bits: int) -> None:
    key = rsa.generate_private_key(65537, bits).public_key()
    with pytest.raises(PkiError) as caught:
        check_public_key(key)
    assert caught.value.kind == "weak-key"


def test_rsa_small_exponent_is_weak() -> None:
    key = rsa.generate_private_key(3, 2048).public_key()
    with pytest.raises(PkiError) as caught:
        check_public_key(key)
    assert caught.value.kind == "weak-key"
    assert "exponent" in caught.value.detail


def test_rsa_modulus_not_multiple_of_8_is_weak() -> None:
    key = rsa.generate_private_key(65537, 2052).public_key()
    with pytest.raises(PkiError) as caught:
        check_public_key(key)
    assert caught.value.kind == "weak-key"


def test_rsa_above_4096_is_unsupported() -> None:
    key = rsa.generate_private_key(65537, 4104).public_key()
    with pytest.raises(PkiError) as caught:
        check_public_key(key)
    assert caught.value.kind == "unsupported-key"


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP521R1()).public_key(),
        ec.generate_private_key(ec.SECP256K1()).public_key(),
        x25519.X25519PrivateKey.generate().public_key(),
        dsa.generate_private_key(2048).public_key(),
    ],
    ids=["p521", "secp256k1", "x25519", "dsa"],
)
def test_other_key_types_are_unsupported(key: object) -> None:
    with pytest.raises(PkiError) as caught:
        check_public_key(key)
    assert caught.value.kind == "unsupported-key"


def test_allowed_keys_pass(keys: dict[str, object]) -> None:
    for kind, spec in [
        ("ec", "ec-p256"),
        ("ec384", "ec-p384"),
        ("ed25519", "ed25519"),
        ("rsa2048", "rsa-2048"),
        ("rsa3072", "rsa-3072"),
    ]:
        key = keys[kind].public_key()  # type: ignore[attr-defined]
        assert check_public_key(key) is key
        assert key_spec_of(key) == spec


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "changeme",
        "CHANGE_ME",
        "<passphrase>",
        "${CLEARANCE_CA_PASSPHRASE}",
        "short",
        "aaaaaaaaaaaaaaaa",
        "password",
    ],
)
def test_placeholder_passphrases_are_refused(value: str) -> None:
    with pytest.raises(PkiError) as caught:
        check_passphrase(value)
    assert caught.value.kind == "malformed"
    assert value.strip() == "" or value not in caught.value.detail  # never echo the secret


def test_key_round_trip_and_wrong_passphrase() -> None:
    key = generate_ca_key("ec-p384")
    pem = encrypt_private_key(key, b"correct horse battery staple")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = decrypt_private_key(pem, b"correct horse battery staple", "k")
    assert loaded.private_numbers() == key.private_numbers()
    with pytest.raises(PkiError) as caught:
        decrypt_private_key(pem, b"wrong horse battery staple", "k")
    assert caught.value.kind == "unauthorized"


def test_unencrypted_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    key = generate_ca_key("ec-p384")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(PkiError) as caught:
        decrypt_private_key(pem, b"correct horse battery staple", "k")
    assert caught.value.kind == "malformed"


@pytest.mark.parametrize("spec", ["ec-p256", "rsa-2048", "rsa-3072", "ed25519"])
def test_a_new_ca_key_is_p384_or_rsa_4096(spec: str) -> None:
    """S/MIME BR v1.0.16, ballot SMC017: a CA key generated after 2026-09-15 (RSA 3072 was
    allowed before) is refused, naming the rule and what is accepted."""
    with pytest.raises(PkiError) as caught:
        generate_ca_key(spec)  # type: ignore[arg-type]
    assert caught.value.kind == "unsupported-key"
    for needed in ("SMC017", "ec-p384", "rsa-4096", "2026-09-15"):
        assert needed in caught.value.detail


def test_ca_key_types() -> None:
    assert generate_ca_key("rsa-4096").key_size == 4096  # type: ignore[union-attr]
    with pytest.raises(PkiError):
        parse_key_spec("rsa-1024")


def test_an_unsupported_key_names_what_is_accepted() -> None:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, x25519

    for key in (
        dsa.generate_private_key(2048).public_key(),
        x25519.X25519PrivateKey.generate().public_key(),
        ec.generate_private_key(ec.SECP521R1()).public_key(),
    ):
        with pytest.raises(PkiError) as caught:
            check_public_key(key)
        assert caught.value.kind == "unsupported-key"
        assert "accepted: RSA 2048-4096 bits" in caught.value.detail
        assert "ECDSA P-256 or P-384, or Ed25519" in caught.value.detail
