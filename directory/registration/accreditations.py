"""Accreditations: an organisation's certification under a scheme the policy counts, for a
period."""

from __future__ import annotations

import uuid
from datetime import datetime

from directory.authz import Action, Principal, authorize
from directory.errors import not_found
from directory.model import (
    Accreditation,
    RecordStatus,
)
from directory.registration.base import (
    RegistrationBase,
    check_period,
    deny_first,
    required_text,
)


class Accreditations(RegistrationBase):
    def add_accreditation(
        self,
        p: Principal,
        org_id: str,
        scheme: str,
        evidence: str,
        valid_from: datetime,
        expires: datetime,
    ) -> Accreditation:
        authorize(p, Action.MANAGE_ACCREDITATIONS, org_id)
        self._org(org_id)
        check_period(valid_from, expires)
        clean_scheme = required_text(scheme, "scheme", limit=100)
        row = Accreditation(
            id=str(uuid.uuid4()),
            organisation_id=org_id,
            scheme=clean_scheme,
            evidence=required_text(evidence, "evidence", limit=2000),
            valid_from=valid_from,
            expires=expires,
            status=RecordStatus.ACTIVE,
        )
        with self.store.write(p.name, self.clock()) as w:
            w.add(row, "accreditation.add")
        found = self.store.accreditation(row.id)
        assert found is not None
        return found

    def end_accreditation(self, p: Principal, accreditation_id: str) -> None:
        found = self.store.accreditation(accreditation_id)
        if found is None or found.status is not RecordStatus.ACTIVE:
            deny_first(p, Action.MANAGE_ACCREDITATIONS)
            raise not_found(f"no accreditation {accreditation_id}")
        authorize(p, Action.MANAGE_ACCREDITATIONS, found.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            w.change(
                Accreditation,
                accreditation_id,
                {"status": RecordStatus.REMOVED},
                "accreditation.end",
            )
