"""Domains: claimed by an organisation, verified and given a posture by hand (DNS checks
record the same through directory/verification), removed with their recipients."""

from __future__ import annotations

import uuid

from directory.address import normalise_domain
from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed
from directory.model import (
    DmarcPolicy,
    Domain,
    OrgStatus,
    Posture,
    Recipient,
    RecordStatus,
)
from directory.registration.base import (
    RegistrationBase,
    required_text,
)


class Domains(RegistrationBase):
    def claim_domain(
        self, p: Principal, org_id: str, name: str, subaddress_separator: str | None = None
    ) -> Domain:
        authorize(p, Action.MANAGE_DOMAINS, org_id)
        org = self._org(org_id)
        if org.status is OrgStatus.WITHDRAWN:
            raise conflict("a withdrawn organisation cannot claim domains")
        clean = normalise_domain(required_text(name, "domain", limit=253))
        if subaddress_separator not in (None, "", "+", "-"):
            raise malformed(
                "subaddress_separator must be '+', '-' or empty", field="subaddress_separator"
            )
        if self.store.domain_by_name(clean) is not None:
            raise conflict(f"{clean} is already claimed in the directory")
        row = Domain(
            id=str(uuid.uuid4()),
            organisation_id=org_id,
            name=clean,
            status=RecordStatus.ACTIVE,
            verified_at=None,
            verification_method=None,
            verification_evidence=None,
            posture=None,
            subaddress_separator=subaddress_separator or None,
        )
        with self.store.write(p.name, self.clock()) as w:
            w.add(row, "domain.claim")
        return self._domain(row.id)

    def record_domain_verification(self, p: Principal, domain_id: str, evidence: str) -> Domain:
        """Manual, audited domain-control verification (until DNS checks run)."""
        domain = self._domain(domain_id, p, Action.RECORD_VERIFICATION)
        authorize(p, Action.RECORD_VERIFICATION, domain.organisation_id)
        now = self.clock()
        changes = {
            "verified_at": now,
            "verification_method": "manual",
            "verification_evidence": required_text(evidence, "evidence", limit=2000),
        }
        with self.store.write(p.name, now) as w:
            w.change(Domain, domain_id, changes, "domain.verify-manual")
        return self._domain(domain_id)

    def record_posture(
        self,
        p: Principal,
        domain_id: str,
        *,
        evidence: str,
        mx: bool = True,
        tls: bool = False,
        mta_sts: str | None = None,
        dane: bool = False,
        dmarc: str | None = None,
    ) -> Domain:
        """Manual, audited posture record (until DNS checks run)."""
        domain = self._domain(domain_id, p, Action.RECORD_VERIFICATION)
        authorize(p, Action.RECORD_VERIFICATION, domain.organisation_id)
        if mta_sts not in (None, "none", "testing", "enforce"):
            raise malformed("mta_sts must be none, testing or enforce", field="mta_sts")
        if dmarc not in (None, "none", "quarantine", "reject"):
            raise malformed("dmarc must be none, quarantine or reject", field="dmarc")
        now = self.clock()
        posture = Posture(
            checked_at=now,
            mx=mx,
            tls=tls,
            mta_sts=None if mta_sts in (None, "none") else mta_sts,
            dane=dane,
            dmarc=DmarcPolicy.from_label(dmarc) if dmarc else None,
            source="manual",
            evidence=required_text(evidence, "evidence", limit=2000),
        )
        with self.store.write(p.name, now) as w:
            w.change(
                Domain,
                domain_id,
                {"posture": posture},
                "domain.posture-manual",
            )
        return self._domain(domain_id)

    def remove_domain(self, p: Principal, domain_id: str) -> None:
        domain = self._domain(domain_id, p, Action.MANAGE_DOMAINS)
        authorize(p, Action.MANAGE_DOMAINS, domain.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            for r in self.store.recipients(domain.organisation_id, limit=10**9):
                if r.domain_id == domain_id:
                    w.change(
                        Recipient,
                        r.id,
                        {"status": RecordStatus.REMOVED},
                        "recipient.remove",
                    )
            w.change(Domain, domain_id, {"status": RecordStatus.REMOVED}, "domain.remove")
