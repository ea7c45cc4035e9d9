"""Organisations: create, change, vet, and move through their statuses (suspending or
withdrawing one flags the organisations it sponsors and runs the status hooks)."""

from __future__ import annotations

import uuid
from typing import Any

from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed
from directory.model import (
    Organisation,
    OrgStatus,
    Sector,
)
from directory.registration.base import (
    RegistrationBase,
    required_text,
)
from directory.store.writer import Writer

TRANSITIONS: dict[OrgStatus, frozenset[OrgStatus]] = {
    OrgStatus.APPLIED: frozenset({OrgStatus.ACTIVE, OrgStatus.WITHDRAWN}),
    OrgStatus.ACTIVE: frozenset({OrgStatus.SUSPENDED, OrgStatus.WITHDRAWN}),
    OrgStatus.SUSPENDED: frozenset({OrgStatus.ACTIVE, OrgStatus.WITHDRAWN}),
    OrgStatus.WITHDRAWN: frozenset(),
}


IDENTIFIER_SCHEMES = frozenset(
    {
        "gss",
        "ods",
        "charity",
        "companies-house",
        "police-force",
        "govuk-org",
        "urn",
        "ukprn",
        "other",
    }
)


def _identifiers(values: dict[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for scheme, value in (values or {}).items():
        if scheme not in IDENTIFIER_SCHEMES:
            raise malformed(
                f"unknown identifier scheme {scheme[:40]!r}; known: "
                f"{', '.join(sorted(IDENTIFIER_SCHEMES))}",
                field="identifiers",
            )
        out[scheme] = required_text(value, f"identifiers.{scheme}", limit=64)
    return out


class Organisations(RegistrationBase):
    def create_organisation(
        self,
        p: Principal,
        name: str,
        sector: str,
        identifiers: dict[str, str] | None = None,
    ) -> Organisation:
        authorize(p, Action.CREATE_ORGANISATION)
        clean_name = required_text(name, "name")
        try:
            clean_sector = Sector(sector)
        except ValueError:
            raise malformed(
                f"unknown sector {sector[:40]!r}; known: {', '.join(s.value for s in Sector)}",
                field="sector",
            ) from None
        row = Organisation(
            id=str(uuid.uuid4()),
            name=clean_name,
            sector=clean_sector,
            status=OrgStatus.APPLIED,
            identifiers=_identifiers(identifiers),
            vetted_at=None,
            vetting_evidence=None,
            review_required=None,
        )
        with self.store.write(p.name, self.clock()) as w:
            w.add(row, "organisation.create")
        return self._org(row.id)

    def update_organisation(
        self,
        p: Principal,
        org_id: str,
        *,
        name: str | None = None,
        identifiers: dict[str, str] | None = None,
        clear_review: bool = False,
    ) -> Organisation:
        authorize(p, Action.UPDATE_ORGANISATION, org_id)
        self._org(org_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = required_text(name, "name")
        if identifiers is not None:
            changes["identifiers"] = _identifiers(identifiers)
        if clear_review:
            changes["review_required"] = None
        if not changes:
            raise malformed("nothing to change", field="body")
        with self.store.write(p.name, self.clock()) as w:
            w.change(Organisation, org_id, changes, "organisation.update")
        return self._org(org_id)

    def vet_organisation(self, p: Principal, org_id: str, evidence: str) -> Organisation:
        """Record that the organisation's identity was checked against its register."""
        authorize(p, Action.VET_ORGANISATION, org_id)
        org = self._org(org_id)
        if not org.identifiers:
            raise conflict("record a register identifier (GSS, ODS, charity number ...) first")
        now = self.clock()
        changes = {
            "vetted_at": now,
            "vetting_evidence": required_text(evidence, "evidence", limit=2000),
        }
        with self.store.write(p.name, now) as w:
            w.change(Organisation, org_id, changes, "organisation.vet")
        return self._org(org_id)

    def set_status(self, p: Principal, org_id: str, status: str, reason: str) -> Organisation:
        authorize(p, Action.CHANGE_STATUS, org_id)
        org = self._org(org_id)
        try:
            target = OrgStatus(status)
        except ValueError:
            raise malformed(f"unknown status {status[:40]!r}", field="status") from None
        why = required_text(reason, "reason", limit=2000)
        if target not in TRANSITIONS[org.status]:
            raise conflict(
                f"an organisation that is {org.status.value} cannot become {target.value}"
            )
        now = self.clock()
        with self.store.write(p.name, now) as w:
            after = w.change(
                Organisation, org_id, {"status": target}, f"organisation.{target.value}"
            )
            w.audit("organisation.status-reason", "organisation", org_id, None, {"reason": why})
            if target in (OrgStatus.SUSPENDED, OrgStatus.WITHDRAWN):
                self._flag_sponsored(w, org, target)
                for hook in self.status_hooks:
                    hook(w, after, target)
        return self._org(org_id)

    def _flag_sponsored(self, w: Writer, sponsor: Organisation, status: OrgStatus) -> None:
        for s in self.store.sponsorships(sponsor_id=sponsor.id):
            if s.valid_at(w.now):
                note = f"sponsor {sponsor.name} was {status.value} on {w.now.date().isoformat()}"
                w.change(
                    Organisation,
                    s.sponsored_id,
                    {"review_required": note},
                    "organisation.flag-review",
                )
