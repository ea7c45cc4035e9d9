"""Checks on what an operator types about a peer: its name, URL, public key and trust cap."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from directory.errors import malformed
from directory.model import TrustLevel
from pki.errors import PkiError
from pki.signing import VerifyKey, load_public_key

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
DEFAULT_MAX_TRUST = TrustLevel.ORGANISATION_VERIFIED
GRANTABLE = tuple(level.label for level in TrustLevel if level > TrustLevel.NONE)


def check_name(name: str) -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise malformed(
            f"peer name {str(name)[:80]!r} must be 1-63 of a-z 0-9 . _ - (starting a-z 0-9)",
            field="name",
        )
    return name


def check_url(url: str | None) -> str | None:
    """The peer's trust-list URL: https (or http, for a peer on the same host or a test)."""
    if url is None or url == "":
        return None
    if len(url) > 2000:
        raise malformed("the URL is too long", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise malformed(f"{url[:80]!r} is not an http(s) URL", field="url")
    if parts.username or parts.password:
        raise malformed("the URL must not carry credentials (use --api-key-file)", field="url")
    return url


def parse_max_trust(label: str | None) -> TrustLevel:
    if label is None or label == "":
        return DEFAULT_MAX_TRUST
    try:
        level = TrustLevel.from_label(label)
    except ValueError:
        level = TrustLevel.NONE
    if level is TrustLevel.NONE:
        raise malformed(
            f"max trust {label[:40]!r} must be one of {', '.join(GRANTABLE)} "
            "(suspend a peer to grant it nothing)",
            field="max_trust",
        )
    return level


def check_public_key(pem: str | bytes) -> VerifyKey:
    try:
        return load_public_key(pem)
    except PkiError as exc:
        raise malformed(f"public key: {exc.detail}", field="public_key") from None
