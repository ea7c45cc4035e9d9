"""The passphrase that encrypts the directory's private keys at rest (the CA's and the federation
signing key): where it comes from, and a random one written on first use."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from directory.errors import DirectoryError, ErrorKind

if TYPE_CHECKING:
    from directory.settings import Settings


def passphrase(settings: Settings) -> str:
    """The CA keys' passphrase: a configured file, the environment, or <home>/ca-passphrase."""
    if settings.ca_passphrase_file:
        return _read_secret(Path(settings.ca_passphrase_file))
    from_env = os.environ.get("CLEARANCE_CA_PASSPHRASE")
    if from_env:
        return from_env
    default = settings.home / "ca-passphrase"
    if default.is_file():
        return _read_secret(default)
    raise DirectoryError(
        ErrorKind.CONFIG,
        "no CA passphrase: set CLEARANCE_CA_PASSPHRASE or ca_passphrase_file "
        "(or run `clearance ca init`)",
    )


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DirectoryError(ErrorKind.CONFIG, f"{path}: cannot be read ({exc.strerror})") from None


def ensure_passphrase_file(settings: Settings) -> Path | None:
    """Write a random passphrase to <home>/ca-passphrase (0600) when none is configured."""
    if settings.ca_passphrase_file or os.environ.get("CLEARANCE_CA_PASSPHRASE"):
        return None
    target = settings.home / "ca-passphrase"
    if not target.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        target.touch(mode=0o600)
        target.write_text(secrets.token_urlsafe(32) + "\n")
    return target
