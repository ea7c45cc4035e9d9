"""Row <-> model conversion, and JSON-safe snapshots of rows for the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from directory.model import (
    Accreditation,
    ApiKey,
    DmarcPolicy,
    Domain,
    Organisation,
    OrgStatus,
    Posture,
    Recipient,
    RecipientKind,
    RecipientRole,
    RecordStatus,
    Sector,
    Sponsorship,
)


def jsonable(row: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "der" and isinstance(value, bytes | bytearray):
            out[key] = value.hex()
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def organisation(row: Mapping[Any, Any]) -> Organisation:
    return Organisation(
        id=row["id"],
        name=row["name"],
        sector=Sector(row["sector"]),
        status=OrgStatus(row["status"]),
        identifiers=dict(row["identifiers"] or {}),
        vetted_at=row["vetted_at"],
        vetting_evidence=row["vetting_evidence"],
        review_required=row["review_required"],
        change_seq=row["change_seq"],
    )


def posture_from_json(data: Mapping[str, Any] | None) -> Posture | None:
    if not data:
        return None
    dmarc = data.get("dmarc")
    return Posture(
        checked_at=datetime.fromisoformat(data["checked_at"]),
        mx=bool(data.get("mx", False)),
        tls=bool(data.get("tls", False)),
        mta_sts=data.get("mta_sts"),
        dane=bool(data.get("dane", False)),
        dmarc=DmarcPolicy.from_label(dmarc) if dmarc else None,
        source=data.get("source", "manual"),
        evidence=data.get("evidence"),
    )


def posture_to_json(posture: Posture) -> dict[str, Any]:
    return {
        "checked_at": posture.checked_at.isoformat(),
        "mx": posture.mx,
        "tls": posture.tls,
        "mta_sts": posture.mta_sts,
        "dane": posture.dane,
        "dmarc": posture.dmarc.label if posture.dmarc is not None else None,
        "source": posture.source,
        "evidence": posture.evidence,
    }


def domain(row: Mapping[Any, Any]) -> Domain:
    return Domain(
        id=row["id"],
        organisation_id=row["organisation_id"],
        name=row["name"],
        verified_at=row["verified_at"],
        verification_method=row["verification_method"],
        verification_evidence=row["verification_evidence"],
        posture=posture_from_json(row["posture"]),
        subaddress_separator=row["subaddress_separator"],
        status=RecordStatus(row["status"]),
        change_seq=row["change_seq"],
    )


def recipient(row: Mapping[Any, Any]) -> Recipient:
    return Recipient(
        id=row["id"],
        organisation_id=row["organisation_id"],
        domain_id=row["domain_id"],
        kind=RecipientKind(row["kind"]),
        address=row["address"],
        display_name=row["display_name"],
        role=RecipientRole(row["role"]),
        mailbox_verified_at=row["mailbox_verified_at"],
        exclusions=tuple(row["exclusions"] or ()),
        status=RecordStatus(row["status"]),
        given_name=row["given_name"],
        surname=row["surname"],
        change_seq=row["change_seq"],
    )


def accreditation(row: Mapping[Any, Any]) -> Accreditation:
    return Accreditation(
        id=row["id"],
        organisation_id=row["organisation_id"],
        scheme=row["scheme"],
        evidence=row["evidence"],
        valid_from=row["valid_from"],
        expires=row["expires"],
        status=RecordStatus(row["status"]),
    )


def sponsorship(row: Mapping[Any, Any]) -> Sponsorship:
    return Sponsorship(
        id=row["id"],
        sponsor_id=row["sponsor_id"],
        sponsored_id=row["sponsored_id"],
        purpose=row["purpose"],
        ceiling=row["ceiling"],
        valid_from=row["valid_from"],
        expires=row["expires"],
        status=RecordStatus(row["status"]),
    )


def api_key(row: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
