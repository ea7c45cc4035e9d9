"""Public suffixes and organisational domains, from the maintained `publicsuffixlist` package
(which ships a recent copy of the Public Suffix List, ICANN and private sections)."""

from __future__ import annotations

from functools import lru_cache

from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _list() -> PublicSuffixList:
    return PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """True for gov.uk, co.uk, github.io, test ...: names nobody controls for an organisation."""
    return bool(_list().is_public(domain.lower().rstrip(".")))


def organisational_domain(domain: str) -> str | None:
    """The registrable domain (one label below the public suffix), as DMARC (RFC 7489 3.2)."""
    found = _list().privatesuffix(domain.lower().rstrip("."))
    return str(found) if found else None
