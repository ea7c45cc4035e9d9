"""This directory's federation signing key: Ed25519, encrypted PKCS#8 PEM under the home
directory (0600), with the passphrase the CA keys use (directory.certificates.passphrase)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from directory.errors import DirectoryError, ErrorKind
from directory.passphrase import ensure_passphrase_file, passphrase
from pki.errors import PkiError
from pki.signing import (
    SigningKey,
    encrypt_signing_key,
    generate_signing_key,
    key_id,
    load_signing_key,
    public_key_pem,
)

if TYPE_CHECKING:
    from directory.settings import Settings

KEY_FILE = "federation-key.pem"


def key_path(settings: Settings) -> Path:
    return settings.home / KEY_FILE


def ensure_signing_key(settings: Settings) -> bool:
    """Create the signing key if absent (and the passphrase file, as the CA does). True when
    a key was created; an existing key is never replaced."""
    path = key_path(settings)
    if path.exists():
        return False
    ensure_passphrase_file(settings)
    try:
        pem = encrypt_signing_key(generate_signing_key(), passphrase(settings))
    except PkiError as exc:
        raise DirectoryError(ErrorKind.CONFIG, f"federation signing key: {exc.detail}") from None
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False  # made meanwhile by another process: keep that one
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return True


def signing_key(settings: Settings) -> SigningKey:
    path = key_path(settings)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise DirectoryError(
            ErrorKind.CONFIG,
            f"no federation signing key at {path}: run `clearance federation key init`",
        ) from None
    except OSError as exc:
        raise DirectoryError(ErrorKind.CONFIG, f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return load_signing_key(pem, passphrase(settings), str(path))
    except PkiError as exc:
        raise DirectoryError(ErrorKind.CONFIG, exc.detail) from None


def public_key(settings: Settings) -> tuple[str, str]:
    """(SPKI PEM, key id `sha256:<hex>`) of this directory's signing key."""
    key = signing_key(settings)
    return public_key_pem(key), key_id(key)
