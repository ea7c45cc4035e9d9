"""API keys: random, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import base64
import hashlib
import secrets

PREFIX = "clr_"


def new_secret() -> str:
    return PREFIX + base64.b32encode(secrets.token_bytes(25)).decode("ascii").lower()


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
