"""Recipients: mailbox entries and domain-wide entries on an organisation's own domains,
one at a time or many in one transaction (an import)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from directory.address import Address, normalise, normalise_domain
from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed
from directory.model import (
    Domain,
    Recipient,
    RecipientKind,
    RecipientRole,
    RecordStatus,
)
from directory.registration.base import (
    RegistrationBase,
    optional_text,
    required_text,
)
from directory.store.changes import ChangeReader


@dataclass(frozen=True)
class NewMailbox:
    """One mailbox entry for `Registration.add_mailboxes`."""

    address: str
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    role: str = "person"


def _no_subaddress(addr: Address, domain: Domain) -> None:
    """On a domain that uses sub-addressing, lookups strip the tag: an entry with one could
    never match, so it is refused."""
    if addr.without_subaddress(domain.subaddress_separator) != addr:
        raise malformed(
            f"{addr.text}: {domain.name} uses {domain.subaddress_separator!r} for sub-addresses; "
            "register the mailbox without the tag",
            field="address",
        )


class Recipients(RegistrationBase):
    def add_recipient(
        self,
        p: Principal,
        org_id: str,
        *,
        address: str | None = None,
        domain: str | None = None,
        role: str = "person",
        display_name: str | None = None,
        given_name: str | None = None,
        surname: str | None = None,
        mailbox_verified: bool = False,
        exclusions: list[str] | None = None,
    ) -> Recipient:
        """A mailbox entry (address) or a domain-wide entry (domain), on the org's own domain."""
        authorize(p, Action.MANAGE_RECIPIENTS, org_id)
        self._org(org_id)
        if (address is None) == (domain is None):
            raise malformed(
                "give exactly one of address (a mailbox) or domain (domain-wide)", field="address"
            )
        now = self.clock()
        if address is not None:
            addr = normalise(address)
            dom = self._own_domain(org_id, addr.domain)
            _no_subaddress(addr, dom)
            if exclusions:
                raise malformed("exclusions apply to domain-wide entries only", field="exclusions")
            clean_role = _role(role)
            excluded: tuple[str, ...] = ()
            kind, stored_address = RecipientKind.MAILBOX, addr.text
        else:
            dom = self._own_domain(
                org_id, normalise_domain(required_text(domain, "domain", limit=253))
            )
            if mailbox_verified:
                raise malformed(
                    "a domain-wide entry cannot be mailbox-verified", field="mailbox_verified"
                )
            excluded = tuple(sorted({normalise(f"{e}@{dom.name}").local for e in exclusions or []}))
            kind, stored_address, clean_role = RecipientKind.DOMAIN, None, RecipientRole.SHARED
        row = Recipient(
            id=str(uuid.uuid4()),
            organisation_id=org_id,
            domain_id=dom.id,
            kind=kind,
            address=stored_address,
            display_name=optional_text(display_name, "display_name", required=False),
            given_name=optional_text(given_name, "given_name", limit=100, required=False),
            surname=optional_text(surname, "surname", limit=100, required=False),
            role=clean_role,
            mailbox_verified_at=now if mailbox_verified else None,
            exclusions=excluded,
            status=RecordStatus.ACTIVE,
        )
        if (
            kind is RecipientKind.MAILBOX
            and self.store.mailbox_entry(stored_address or "") is not None
        ):
            raise conflict(f"{stored_address} is already in the directory")
        if kind is RecipientKind.DOMAIN and self.store.domain_entry(dom.id) is not None:
            raise conflict(f"{dom.name} already has a domain-wide entry")
        with self.store.write(p.name, now) as w:
            w.add(row, "recipient.add")
        found = self.store.recipient(row.id)
        assert found is not None
        return found

    def add_mailboxes(self, p: Principal, org_id: str, mailboxes: Sequence[NewMailbox]) -> int:
        """Many mailbox entries (an import) in one transaction, one audit entry each.

        Validated exactly as `add_recipient`; all or nothing: one bad entry changes nothing."""
        authorize(p, Action.MANAGE_RECIPIENTS, org_id)
        self._org(org_id)
        now = self.clock()
        own = {d.name: d for d in self.store.domains(org_id)}
        new_rows: list[Recipient] = []
        for m in mailboxes:
            addr = normalise(m.address)
            dom = own.get(addr.domain)
            if dom is None:
                raise conflict(f"{addr.domain} is not a domain of this organisation")
            _no_subaddress(addr, dom)
            clean_role = _role(m.role)
            new_rows.append(
                Recipient(
                    id=str(uuid.uuid4()),
                    organisation_id=org_id,
                    domain_id=dom.id,
                    kind=RecipientKind.MAILBOX,
                    address=addr.text,
                    display_name=optional_text(m.display_name, "display_name", required=False),
                    given_name=optional_text(m.given_name, "given_name", limit=100, required=False),
                    surname=optional_text(m.surname, "surname", limit=100, required=False),
                    role=clean_role,
                    mailbox_verified_at=None,
                    exclusions=(),
                    status=RecordStatus.ACTIVE,
                )
            )
        addresses = [r.address or "" for r in new_rows]
        if len(set(addresses)) != len(addresses):
            raise conflict("the same address is given more than once")
        existing = ChangeReader(self.store.engine).mailboxes_at(addresses)
        if existing:
            raise conflict(f"{min(existing)} is already in the directory")
        with self.store.write(p.name, now) as w:
            for row in new_rows:
                w.add(row, "recipient.add")
        return len(new_rows)

    def update_recipient(
        self,
        p: Principal,
        recipient_id: str,
        *,
        role: str | None = None,
        display_name: str | None = None,
        mailbox_verified: bool | None = None,
        exclusions: list[str] | None = None,
    ) -> Recipient:
        entry = self._recipient(recipient_id, p, Action.MANAGE_RECIPIENTS)
        authorize(p, Action.MANAGE_RECIPIENTS, entry.organisation_id)
        changes: dict[str, Any] = {}
        now = self.clock()
        if role is not None:
            if entry.kind is RecipientKind.DOMAIN:
                raise malformed("a domain-wide entry has no role", field="role")
            changes["role"] = _role(role).value
        if display_name is not None:
            changes["display_name"] = optional_text(display_name, "display_name", required=False)
        if mailbox_verified is not None:
            if entry.kind is RecipientKind.DOMAIN:
                raise malformed(
                    "a domain-wide entry cannot be mailbox-verified", field="mailbox_verified"
                )
            changes["mailbox_verified_at"] = now if mailbox_verified else None
        if exclusions is not None:
            if entry.kind is not RecipientKind.DOMAIN:
                raise malformed("exclusions apply to domain-wide entries only", field="exclusions")
            dom = self._domain(entry.domain_id)
            changes["exclusions"] = sorted({normalise(f"{e}@{dom.name}").local for e in exclusions})
        if not changes:
            raise malformed("nothing to change", field="body")
        with self.store.write(p.name, now) as w:
            w.change(Recipient, recipient_id, changes, "recipient.update")
        return self._recipient(recipient_id)

    def remove_recipient(self, p: Principal, recipient_id: str) -> None:
        entry = self._recipient(recipient_id, p, Action.MANAGE_RECIPIENTS)
        authorize(p, Action.MANAGE_RECIPIENTS, entry.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            w.change(
                Recipient,
                recipient_id,
                {"status": RecordStatus.REMOVED},
                "recipient.remove",
            )


def _role(value: str) -> RecipientRole:
    """A mailbox entry's role, or malformed naming the roles there are."""
    try:
        return RecipientRole(value)
    except ValueError:
        roles = ", ".join(r.value for r in RecipientRole)
        raise malformed(f"role must be one of {roles}", field="role") from None
