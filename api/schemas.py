"""Request bodies (pydantic). Responses are documented models; lookups skip validation for speed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchLookup(Body):
    addresses: list[str] = Field(min_length=1, description="up to the batch limit (1,000)")
    classification: str | None = Field(default=None, max_length=200)


class OrganisationCreate(Body):
    name: str = Field(max_length=300)
    sector: str = Field(max_length=40)
    identifiers: dict[str, str] = Field(default_factory=dict)


class OrganisationChange(Body):
    name: str | None = Field(default=None, max_length=300)
    identifiers: dict[str, str] | None = None
    clear_review: bool = False


class Evidence(Body):
    evidence: str = Field(max_length=2000)


class Reason(Body):
    reason: str = Field(max_length=2000)


class DomainClaim(Body):
    name: str = Field(max_length=253)
    subaddress_separator: str | None = Field(default=None, max_length=1)


class PostureRecord(Body):
    evidence: str = Field(max_length=2000)
    mx: bool = True
    tls: bool = False
    mta_sts: str | None = None
    dane: bool = False
    dmarc: str | None = None


class RecipientCreate(Body):
    address: str | None = Field(default=None, max_length=1024)
    domain: str | None = Field(default=None, max_length=253)
    role: str = "person"
    display_name: str | None = Field(default=None, max_length=300)
    given_name: str | None = Field(default=None, max_length=100)
    surname: str | None = Field(default=None, max_length=100)
    mailbox_verified: bool = False
    exclusions: list[str] | None = None


class RecipientChange(Body):
    role: str | None = None
    display_name: str | None = Field(default=None, max_length=300)
    mailbox_verified: bool | None = None
    exclusions: list[str] | None = None


class AccreditationCreate(Body):
    scheme: str = Field(max_length=100)
    evidence: str = Field(max_length=2000)
    valid_from: datetime
    expires: datetime


class SponsorshipCreate(Body):
    sponsor_id: str = Field(max_length=36)
    sponsored_id: str = Field(max_length=36)
    purpose: str = Field(max_length=2000)
    ceiling: str = Field(max_length=200)
    valid_from: datetime
    expires: datetime


class ApiKeyCreate(Body):
    name: str = Field(max_length=200)
    scopes: list[str] = Field(
        min_length=1, description="lookup, directory-admin, federation or org-admin:<org id>"
    )


class LookupAnswer(BaseModel):
    """The answer shape (DESIGN.md). Documented here; produced by directory.lookup."""

    address: str
    known: bool
    matched: str | None
    trust_level: str
    max_classification: str | None
    classification: str | None
    permitted: bool | None
    organisation: dict[str, Any] | None
    handling: dict[str, str] | None
    certificates: list[dict[str, str]]
    reasons: list[dict[str, str]]
    checked_at: str
    valid_until: str
    policy: dict[str, str]


class BatchAnswer(BaseModel):
    answers: list[LookupAnswer]
