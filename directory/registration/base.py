"""What the registration of every record type shares: validation of free text and periods,
and reading the records a change starts from (not found, after refusing a caller
who could act on no such record)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from directory.address import normalise_domain
from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed, not_found
from directory.model import (
    Domain,
    Organisation,
    OrgStatus,
    Recipient,
    RecordStatus,
)
from directory.policy import Policy
from directory.store.store import DirectoryStore
from directory.store.writer import Writer

Clock = Callable[[], datetime]
# Called inside the write transaction when an organisation is suspended or withdrawn
# (the certificate authority hooks revocation here).
StatusHook = Callable[[Writer, Organisation, OrgStatus], None]


def optional_text(
    value: str | None, field: str, *, limit: int = 300, required: bool = True
) -> str | None:
    if value is None or not value.strip():
        if required:
            raise malformed(f"{field} is required", field=field)
        return None
    value = value.strip()
    if len(value) > limit:
        raise malformed(f"{field} is longer than {limit} characters", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise malformed(f"{field} contains control characters", field=field)
    return value


def required_text(value: str | None, field: str, *, limit: int = 300) -> str:
    out = optional_text(value, field, limit=limit)
    assert out is not None
    return out


def check_period(valid_from: datetime, expires: datetime) -> None:
    if valid_from.tzinfo is None or expires.tzinfo is None:
        raise malformed("times must carry a time zone (e.g. 2026-01-01T00:00:00Z)", field="expires")
    if expires <= valid_from:
        raise malformed("expires must be after valid_from", field="expires")


def deny_first(p: Principal | None, action: Action | None) -> None:
    """Before saying a record does not exist, refuse a caller who could not act on any such
    record (an organisation admin learns nothing about other organisations' ids)."""
    if p is not None and action is not None:
        authorize(p, action, None)


class RegistrationBase:
    """What every record type's registration shares: the store, the policy, the clock, and
    reading the records a change starts from."""

    def __init__(
        self,
        store: DirectoryStore,
        policy: Policy,
        clock: Clock,
        status_hooks: list[StatusHook] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.status_hooks: list[StatusHook] = status_hooks or []

    # --- lookups of records, with authorisation ------------------------------------------
    def organisation(self, p: Principal, org_id: str) -> Organisation:
        authorize(p, Action.READ_ORGANISATION, org_id)
        org = self.store.organisation(org_id)
        if org is None:
            raise not_found(f"no organisation {org_id}")
        return org

    def _org(self, org_id: str) -> Organisation:
        org = self.store.organisation(org_id)
        if org is None:
            raise not_found(f"no organisation {org_id}")
        return org

    def _domain(
        self, domain_id: str, p: Principal | None = None, action: Action | None = None
    ) -> Domain:
        domain = self.store.domain(domain_id)
        if domain is None or domain.status is not RecordStatus.ACTIVE:
            deny_first(p, action)
            raise not_found(f"no domain {domain_id}")
        return domain

    def domain_named(self, name: str) -> Domain:
        domain = self.store.domain_by_name(normalise_domain(name))
        if domain is None:
            raise not_found(f"no domain {name[:80]!r} in the directory")
        return domain

    def _own_domain(self, org_id: str, name: str) -> Domain:
        domain = self.store.domain_by_name(name)
        if domain is None or domain.organisation_id != org_id:
            raise conflict(f"{name} is not a domain of this organisation; claim it first")
        return domain

    def _recipient(
        self, recipient_id: str, p: Principal | None = None, action: Action | None = None
    ) -> Recipient:
        entry = self.store.recipient(recipient_id)
        if entry is None or entry.status is not RecordStatus.ACTIVE:
            deny_first(p, action)
            raise not_found(f"no recipient {recipient_id}")
        return entry
