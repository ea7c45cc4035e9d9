"""Federation records as plain, immutable values: peers and what their trust lists assert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from directory.model import Posture, TrustLevel


class PeerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Peer:
    """Another directory whose signed trust lists this one imports."""

    id: str
    name: str
    url: str | None  # where its trust list is fetched from (GET, Bearer key), if anywhere
    public_key: str  # Ed25519 SubjectPublicKeyInfo PEM
    key_id: str  # sha256:<hex of the SPKI DER>
    max_trust: TrustLevel  # the most this directory grants the peer's entries
    permitted: tuple[str, ...]  # name constraints: the domain suffixes it may speak for
    status: PeerStatus
    created_at: datetime
    changed_at: datetime
    list_issued_at: datetime | None  # of the last list imported
    list_valid_until: datetime | None
    list_digest: str | None  # sha256:<hex> of the last list's payload bytes


@dataclass(frozen=True, slots=True)
class FederatedDomain:
    """A domain listed by an active peer, with the peer facts a lookup needs (in the snapshot)."""

    id: str
    peer_name: str
    peer_max_trust: TrustLevel
    list_valid_until: datetime
    domain: str
    organisation_id: str  # the peer's id for the organisation
    organisation_name: str
    sector: str
    trust_level: TrustLevel  # as the peer derived it when it issued the list
    ceiling: str | None  # a sponsorship ceiling (classification name), if trust rests on one
    posture: Posture | None  # the peer's latest check, as of its checked_at
    domain_wide: bool
    exclusions: tuple[str, ...]  # base local parts (without a sub-address)
    subaddress_separator: str | None = None  # as the peer's domain entry says


@dataclass(frozen=True, slots=True)
class FederatedMailbox:
    address: str
    domain_id: str
    role: str
    mailbox_verified: bool


def permits(permitted: Iterable[str], domain: str) -> bool:
    """Whether a (normalised) domain falls within (normalised) name constraints: a suffix
    covers itself and every name under it, as an X.509 dNSName constraint does."""
    return any(domain == suffix or domain.endswith("." + suffix) for suffix in permitted)
