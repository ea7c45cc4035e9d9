"""Checks on what an operator types about a peer: its name, URL, public key, trust cap and
name constraints."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from directory.address import normalise_domain
from directory.errors import DirectoryError, malformed
from directory.model import TrustLevel
from pki.errors import PkiError
from pki.signing import VerifyKey, load_public_key

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
DEFAULT_MAX_TRUST = TrustLevel.ORGANISATION_VERIFIED
MAX_PERMITTED = 1000
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


def parse_permitted(suffixes: Iterable[str]) -> tuple[str, ...]:
    """Name constraints, like X.509's dNSName ones: each suffix covers itself and every name
    under it (`nhs.uk` covers `nhs.uk` and `cwh.nhs.uk`, not `notnhs.uk`). At least one; a
    single label (`uk`) is allowed and means the whole of that top-level domain."""
    out: set[str] = set()
    for raw in suffixes:
        if not isinstance(raw, str):
            raise malformed("a permitted domain suffix must be a string", field="permitted")
        text = raw.strip().removeprefix(".")
        try:
            name = normalise_domain(text if "." in text else f"x.{text}")
        except DirectoryError:
            raise malformed(
                f"permitted suffix {raw[:80]!r} is not a domain name", field="permitted"
            ) from None
        out.add(name if "." in text else name.removeprefix("x."))
    if not out:
        raise malformed(
            "name the domain suffixes the peer may speak for (at least one, e.g. nhs.uk)",
            field="permitted",
        )
    if len(out) > MAX_PERMITTED:
        raise malformed(f"more than {MAX_PERMITTED} permitted suffixes", field="permitted")
    return tuple(sorted(out))
