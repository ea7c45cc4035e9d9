"""What an administrator may read of the register, each read authorised here (by
directory/authz.py's rules) so that no transport reads the store or decides a read itself."""

from __future__ import annotations

from dataclasses import dataclass

from directory.authz import Action, Principal, authorize
from directory.model import (
    Accreditation,
    ApiKey,
    AuditEntry,
    Domain,
    Organisation,
    Recipient,
    Sponsorship,
)
from directory.registration.base import RegistrationBase
from directory.store.audit import AuditProblem


@dataclass(frozen=True, slots=True)
class OrganisationRecord:
    """An organisation with what hangs off it."""

    organisation: Organisation
    domains: list[Domain]
    accreditations: list[Accreditation]
    sponsored_by: list[Sponsorship]
    sponsors: list[Sponsorship]


class Reads(RegistrationBase):
    def organisations(self, p: Principal) -> list[Organisation]:
        authorize(p, Action.LIST_ORGANISATIONS)
        return self.store.organisations()

    def organisation_record(self, p: Principal, org_id: str) -> OrganisationRecord:
        org = self.organisation(p, org_id)  # authorised there, before "not found"
        return OrganisationRecord(
            org,
            self.store.domains(org_id),
            self.store.accreditations(org_id),
            self.store.sponsorships(sponsored_id=org_id),
            self.store.sponsorships(sponsor_id=org_id),
        )

    def domains_of(self, p: Principal, org_id: str) -> list[Domain]:
        authorize(p, Action.READ_ORGANISATION, org_id)
        return self.store.domains(org_id)

    def recipients_of(
        self, p: Principal, org_id: str, *, limit: int = 1000, offset: int = 0
    ) -> list[Recipient]:
        authorize(p, Action.READ_ORGANISATION, org_id)
        return self.store.recipients(org_id, limit=limit, offset=offset)

    def api_keys(self, p: Principal) -> list[ApiKey]:
        authorize(p, Action.MANAGE_API_KEYS)
        return self.store.api_keys()

    def audit_entries(
        self, p: Principal, *, after: int = 0, limit: int = 100, entity_id: str | None = None
    ) -> list[AuditEntry]:
        authorize(p, Action.READ_AUDIT)
        return self.store.audit_entries(after=after, limit=limit, entity_id=entity_id)

    def verify_audit(self, p: Principal) -> tuple[int, list[AuditProblem]]:
        authorize(p, Action.READ_AUDIT)
        return self.store.verify_audit()
