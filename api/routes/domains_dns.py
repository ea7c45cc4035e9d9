"""DNS domain-control verification and posture checks (directory.verification).

Claiming is an organisation administrator's (domain.manage); verifying and recording a check of
a directory domain is too; previewing any domain's posture is a directory administrator's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import directory_of, principal
from api.serialise import plain
from directory.authz import Principal
from directory.verification.service import DnsVerification

router = APIRouter(prefix="/v1/admin", tags=["domains (DNS)"])


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    subaddress_separator: str | None = Field(default=None, max_length=1)


class Preview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)


def verification(request: Request) -> DnsVerification:
    """One per application: its DNSSEC key cache is shared between requests."""
    existing = getattr(request.app.state, "dns_verification", None)
    if existing is None:
        existing = DnsVerification(directory_of(request))
        request.app.state.dns_verification = existing
    return existing


@router.post("/organisations/{org_id}/domains/claim", status_code=201)
def claim(
    org_id: str, body: Claim, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    """Claim a domain (or re-issue its challenge): returns the TXT record to publish."""
    found = verification(request).claim(caller, org_id, body.name, body.subaddress_separator)
    return {**found.as_dict(), "domain_record": plain(found.domain)}


@router.post("/domains/{domain_id}/verify")
def verify(domain_id: str, request: Request, caller: Principal = Depends(principal)) -> Any:
    """Check the domain's challenge in DNS and record the result (audited)."""
    return verification(request).verify(caller, domain_id).as_dict()


@router.post("/domains/check")
def preview(body: Preview, request: Request, caller: Principal = Depends(principal)) -> Any:
    """Check any domain's mail-security posture; nothing is recorded."""
    return verification(request).preview(caller, body.name).as_dict()


@router.post("/domains/{domain_id}/check")
def check(domain_id: str, request: Request, caller: Principal = Depends(principal)) -> Any:
    """Check a directory domain's posture and record it (a temporary failure keeps the last)."""
    return verification(request).check(caller, domain_id).as_dict()
