from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pki.csr import public_key_from_csr
from pki.errors import PkiError
from pki.keys import PrivateKey
from tests.pki.helpers import make_csr


def test_pem_and_der_csrs(keys: dict[str, PrivateKey]) -> None:
    for kind in ("ec", "rsa2048", "ed25519"):
        key = keys[kind]
        assert public_key_from_csr(make_csr(key)) == key.public_key()
        assert public_key_from_csr(make_csr(key, der=True)) == key.public_key()


def test_bad_signature_is_malformed(keys: dict[str, PrivateKey]) -> None:
    der = bytearray(make_csr(keys["ec"], der=True))
    der[-5] ^= 0x01  # inside the signature
    with pytest.raises(PkiError) as caught:
        public_key_from_csr(bytes(der))
    assert caught.value.kind == "malformed"
    assert "signature" in caught.value.detail


def test_1024_bit_rsa_is_weak() -> None:
    key = rsa.generate_private_key(65537, 1024)
    with pytest.raises(PkiError) as caught:
        public_key_from_csr(make_csr(key))
    assert caught.value.kind == "weak-key"


@pytest.mark.parametrize("data", [b"", b"not a csr", b"-----BEGIN CERTIFICATE REQUEST-----\nxx\n"])
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(PkiError) as caught:
        public_key_from_csr(data)
    assert caught.value.kind == "malformed"
