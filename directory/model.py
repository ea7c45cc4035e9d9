"""The register's vocabulary as plain, immutable values (no storage, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Sector(StrEnum):
    CENTRAL_GOVERNMENT = "central-government"
    LOCAL_GOVERNMENT = "local-government"
    HEALTH = "health"
    POLICE = "police"
    JUSTICE = "justice"
    EDUCATION = "education"
    THIRD_SECTOR = "third-sector"
    PRIVATE_SUPPLIER = "private-supplier"


class OrgStatus(StrEnum):
    APPLIED = "applied"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class TrustLevel(IntEnum):
    """Derived, never typed in. Ordered: comparisons mean what they say."""

    NONE = 0
    DOMAIN_VERIFIED = 1
    ORGANISATION_VERIFIED = 2
    ACCREDITED = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_label(cls, label: str) -> TrustLevel:
        for level in cls:
            if level.label == label:
                return level
        raise ValueError(label)


class RecipientKind(StrEnum):
    MAILBOX = "mailbox"
    DOMAIN = "domain"  # every mailbox of a verified domain


class RecipientRole(StrEnum):
    PERSON = "person"
    SHARED = "shared"
    SYSTEM = "system"


class RecordStatus(StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"  # kept, so that removals can be published and audited


class Transport(StrEnum):
    """Transport protection a domain's posture offers, weakest first in the policy's eyes."""

    NONE = "none"
    TLS = "tls"
    MTA_STS_OR_DANE = "mta-sts-or-dane"
    MTA_STS_ENFORCE = "mta-sts-enforce"
    DANE = "dane"


class DmarcPolicy(IntEnum):
    NONE = 0
    QUARANTINE = 1
    REJECT = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> DmarcPolicy:
        return cls[label.upper()]


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    sector: Sector
    status: OrgStatus
    identifiers: dict[str, str]  # scheme -> value, e.g. {"gss": "E07000008", "ods": "RGT"}
    vetted_at: datetime | None  # identity checked against its authoritative register
    vetting_evidence: str | None
    review_required: str | None  # why the organisation needs an administrator's review
    change_seq: int = 0


@dataclass(frozen=True, slots=True)
class Posture:
    """The latest mail-security posture of a domain (filled by the DNS checks or by hand)."""

    checked_at: datetime
    mx: bool  # accepts mail (a non-null MX, or an A fallback)
    tls: bool  # STARTTLS offered
    mta_sts: str | None  # None, "testing" or "enforce"
    dane: bool  # DNSSEC-validated TLSA records for every MX
    dmarc: DmarcPolicy | None
    source: str  # "dns" or "manual"
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    organisation_id: str
    name: str  # IDNA A-label, lower case
    verified_at: datetime | None
    verification_method: str | None  # "dns" or "manual"
    verification_evidence: str | None
    posture: Posture | None
    subaddress_separator: str | None  # "+" when the domain's mail system uses sub-addressing
    status: RecordStatus = RecordStatus.ACTIVE
    change_seq: int = 0


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    organisation_id: str
    domain_id: str
    kind: RecipientKind
    address: str | None  # normalised mailbox for MAILBOX entries, None for DOMAIN entries
    display_name: str | None
    role: RecipientRole
    mailbox_verified_at: datetime | None
    exclusions: tuple[str, ...]  # local parts excluded from a domain-wide entry
    status: RecordStatus = RecordStatus.ACTIVE
    given_name: str | None = None
    surname: str | None = None
    change_seq: int = 0


@dataclass(frozen=True, slots=True)
class Accreditation:
    id: str
    organisation_id: str
    scheme: str
    evidence: str
    valid_from: datetime
    expires: datetime
    status: RecordStatus = RecordStatus.ACTIVE

    def valid_at(self, now: datetime) -> bool:
        return self.status is RecordStatus.ACTIVE and self.valid_from <= now < self.expires


@dataclass(frozen=True, slots=True)
class Sponsorship:
    id: str
    sponsor_id: str
    sponsored_id: str
    purpose: str
    ceiling: str  # a classification level name of the policy's scheme
    valid_from: datetime
    expires: datetime
    status: RecordStatus = RecordStatus.ACTIVE

    def valid_at(self, now: datetime) -> bool:
        return self.status is RecordStatus.ACTIVE and self.valid_from <= now < self.expires


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    position: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str
    extra: dict[str, Any] = field(default_factory=dict)
