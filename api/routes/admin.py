"""Admin endpoints: organisations, domains, recipients, accreditations, sponsorships, API keys,
audit. Each one calls directory.registration, which authorises (directory.authz) and audits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api import schemas
from api.auth import directory_of, principal
from api.serialise import plain, record
from directory.authz import Principal
from directory.service import Directory

router = APIRouter(prefix="/v1/admin", tags=["admin"])
MAX_INT64 = 2**63 - 1  # the largest integer both stores keep: a larger offset is a 422


def _dir(request: Request) -> Directory:
    return directory_of(request)


# --- organisations -------------------------------------------------------------------------
@router.post("/organisations", status_code=201)
def create_organisation(
    body: schemas.OrganisationCreate, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    org = _dir(request).registration.create_organisation(
        caller, body.name, body.sector, body.identifiers
    )
    return record(org)


@router.get("/organisations")
def list_organisations(request: Request, caller: Principal = Depends(principal)) -> list[Any]:
    return [plain(o) for o in _dir(request).registration.organisations(caller)]


@router.get("/organisations/{org_id}")
def read_organisation(
    org_id: str, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    found = _dir(request).registration.organisation_record(caller, org_id)
    return {
        **record(found.organisation),
        "domains": [plain(d) for d in found.domains],
        "accreditations": [plain(a) for a in found.accreditations],
        "sponsored_by": [plain(s) for s in found.sponsored_by],
        "sponsors": [plain(s) for s in found.sponsors],
    }


@router.patch("/organisations/{org_id}")
def change_organisation(
    org_id: str,
    body: schemas.OrganisationChange,
    request: Request,
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    org = _dir(request).registration.update_organisation(
        caller, org_id, name=body.name, identifiers=body.identifiers, clear_review=body.clear_review
    )
    return record(org)


@router.post("/organisations/{org_id}/vet")
def vet_organisation(
    org_id: str, body: schemas.Evidence, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return record(_dir(request).registration.vet_organisation(caller, org_id, body.evidence))


def _status_route(status: str) -> Any:
    def change(
        org_id: str, body: schemas.Reason, request: Request, caller: Principal = Depends(principal)
    ) -> dict[str, Any]:
        org = _dir(request).registration.set_status(caller, org_id, status, body.reason)
        return record(org)

    change.__name__ = f"{status}_organisation"
    return change


for _verb, _status in (("activate", "active"), ("suspend", "suspended"), ("withdraw", "withdrawn")):
    router.add_api_route(
        f"/organisations/{{org_id}}/{_verb}",
        _status_route(_status),
        methods=["POST"],
        summary=f"{_verb.capitalize()} an organisation",
    )


# --- domains -------------------------------------------------------------------------------
@router.post("/organisations/{org_id}/domains", status_code=201)
def claim_domain(
    org_id: str, body: schemas.DomainClaim, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    domain = _dir(request).registration.claim_domain(
        caller, org_id, body.name, body.subaddress_separator
    )
    return record(domain)


@router.get("/organisations/{org_id}/domains")
def list_domains(
    org_id: str, request: Request, caller: Principal = Depends(principal)
) -> list[Any]:
    return [plain(d) for d in _dir(request).registration.domains_of(caller, org_id)]


@router.post("/domains/{domain_id}/verification")
def record_verification(
    domain_id: str, body: schemas.Evidence, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    domain = _dir(request).registration.record_domain_verification(caller, domain_id, body.evidence)
    return record(domain)


@router.post("/domains/{domain_id}/posture")
def record_posture(
    domain_id: str,
    body: schemas.PostureRecord,
    request: Request,
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    domain = _dir(request).registration.record_posture(
        caller,
        domain_id,
        evidence=body.evidence,
        mx=body.mx,
        tls=body.tls,
        mta_sts=body.mta_sts,
        dane=body.dane,
        dmarc=body.dmarc,
    )
    return record(domain)


@router.delete("/domains/{domain_id}", status_code=204)
def remove_domain(
    domain_id: str, request: Request, caller: Principal = Depends(principal)
) -> Response:
    _dir(request).registration.remove_domain(caller, domain_id)
    return Response(status_code=204)


# --- recipients ----------------------------------------------------------------------------
@router.post("/organisations/{org_id}/recipients", status_code=201)
def add_recipient(
    org_id: str,
    body: schemas.RecipientCreate,
    request: Request,
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    entry = _dir(request).registration.add_recipient(caller, org_id, **body.model_dump())
    return record(entry)


@router.get("/organisations/{org_id}/recipients")
def list_recipients(
    org_id: str,
    request: Request,
    caller: Principal = Depends(principal),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_INT64),
) -> list[Any]:
    found = _dir(request).registration.recipients_of(caller, org_id, limit=limit, offset=offset)
    return [plain(r) for r in found]


@router.patch("/recipients/{recipient_id}")
def change_recipient(
    recipient_id: str,
    body: schemas.RecipientChange,
    request: Request,
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    entry = _dir(request).registration.update_recipient(
        caller, recipient_id, **body.model_dump(exclude_unset=True)
    )
    return record(entry)


@router.delete("/recipients/{recipient_id}", status_code=204)
def remove_recipient(
    recipient_id: str, request: Request, caller: Principal = Depends(principal)
) -> Response:
    _dir(request).registration.remove_recipient(caller, recipient_id)
    return Response(status_code=204)


# --- accreditations and sponsorships -------------------------------------------------------
@router.post("/organisations/{org_id}/accreditations", status_code=201)
def add_accreditation(
    org_id: str,
    body: schemas.AccreditationCreate,
    request: Request,
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    found = _dir(request).registration.add_accreditation(
        caller, org_id, body.scheme, body.evidence, body.valid_from, body.expires
    )
    return record(found)


@router.delete("/accreditations/{accreditation_id}", status_code=204)
def end_accreditation(
    accreditation_id: str, request: Request, caller: Principal = Depends(principal)
) -> Response:
    _dir(request).registration.end_accreditation(caller, accreditation_id)
    return Response(status_code=204)


@router.post("/sponsorships", status_code=201)
def add_sponsorship(
    body: schemas.SponsorshipCreate, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    found = _dir(request).registration.add_sponsorship(
        caller,
        body.sponsor_id,
        body.sponsored_id,
        body.purpose,
        body.ceiling,
        body.valid_from,
        body.expires,
    )
    return record(found)


@router.delete("/sponsorships/{sponsorship_id}", status_code=204)
def end_sponsorship(
    sponsorship_id: str, request: Request, caller: Principal = Depends(principal)
) -> Response:
    _dir(request).registration.end_sponsorship(caller, sponsorship_id)
    return Response(status_code=204)


# --- API keys ------------------------------------------------------------------------------
@router.post("/api-keys", status_code=201)
def create_api_key(
    body: schemas.ApiKeyCreate, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    key, secret = _dir(request).registration.create_api_key(caller, body.name, body.scopes)
    return {**plain(key), "key": secret, "note": "shown once; store it now"}


@router.get("/api-keys")
def list_api_keys(request: Request, caller: Principal = Depends(principal)) -> list[Any]:
    return [plain(k) for k in _dir(request).registration.api_keys(caller)]


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(
    key_id: str, request: Request, caller: Principal = Depends(principal)
) -> Response:
    _dir(request).registration.revoke_api_key(caller, key_id)
    return Response(status_code=204)


# --- audit ---------------------------------------------------------------------------------
@router.get("/audit")
def read_audit(
    request: Request,
    caller: Principal = Depends(principal),
    after: int = Query(default=0, ge=0, le=MAX_INT64),
    limit: int = Query(default=100, ge=1, le=1000),
    entity_id: str | None = Query(default=None, max_length=64),
) -> list[Any]:
    entries = _dir(request).registration.audit_entries(
        caller, after=after, limit=limit, entity_id=entity_id
    )
    return [plain(e) for e in entries]


@router.get("/audit/verify")
def verify_audit(request: Request, caller: Principal = Depends(principal)) -> dict[str, Any]:
    checked, problems = _dir(request).registration.verify_audit(caller)
    return {"checked": checked, "ok": not problems, "problems": [plain(p) for p in problems]}
