"""Sponsorships: an active, vetted organisation vouches for another up to a ceiling; ending
one flags the sponsored organisation for review."""

from __future__ import annotations

import uuid
from datetime import datetime

from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed, not_found
from directory.model import (
    Organisation,
    OrgStatus,
    RecordStatus,
    Sponsorship,
)
from directory.registration.base import (
    RegistrationBase,
    check_period,
    deny_first,
    required_text,
)


class Sponsorships(RegistrationBase):
    def add_sponsorship(
        self,
        p: Principal,
        sponsor_id: str,
        sponsored_id: str,
        purpose: str,
        ceiling: str,
        valid_from: datetime,
        expires: datetime,
    ) -> Sponsorship:
        authorize(p, Action.SPONSOR, sponsor_id)
        sponsor = self._org(sponsor_id)
        self._org(sponsored_id)
        if sponsor_id == sponsored_id:
            raise malformed("an organisation cannot sponsor itself", field="sponsored_id")
        if sponsor.status is not OrgStatus.ACTIVE or sponsor.vetted_at is None:
            raise conflict("only an active, vetted organisation can sponsor another")
        level = self.policy.scheme.resolve(ceiling)
        if not self.policy.requirement(level).permitted:
            raise malformed(
                f"{level.name} is never permitted by email; choose a lower ceiling", field="ceiling"
            )
        check_period(valid_from, expires)
        row = Sponsorship(
            id=str(uuid.uuid4()),
            sponsor_id=sponsor_id,
            sponsored_id=sponsored_id,
            purpose=required_text(purpose, "purpose", limit=2000),
            ceiling=level.name,
            valid_from=valid_from,
            expires=expires,
            status=RecordStatus.ACTIVE,
        )
        with self.store.write(p.name, self.clock()) as w:
            w.add(row, "sponsorship.add")
        found = self.store.sponsorship(row.id)
        assert found is not None
        return found

    def end_sponsorship(self, p: Principal, sponsorship_id: str) -> None:
        found = self.store.sponsorship(sponsorship_id)
        if found is None or found.status is not RecordStatus.ACTIVE:
            deny_first(p, Action.SPONSOR)
            raise not_found(f"no sponsorship {sponsorship_id}")
        authorize(p, Action.SPONSOR, found.sponsor_id)
        with self.store.write(p.name, self.clock()) as w:
            w.change(
                Sponsorship,
                sponsorship_id,
                {"status": RecordStatus.REMOVED},
                "sponsorship.end",
            )
            w.change(
                Organisation,
                found.sponsored_id,
                {"review_required": "its sponsorship was ended"},
                "organisation.flag-review",
            )
