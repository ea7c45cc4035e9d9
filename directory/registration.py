"""Registering and changing the directory's records: every change authorised, validated, and
audited (through the store's Writer) in one transaction. Invalid input changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory import apikeys
from directory.address import Address, normalise, normalise_domain
from directory.authz import Action, Principal, authorize, check_scope
from directory.errors import conflict, malformed, not_found
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
from directory.policy import Policy
from directory.store import rows
from directory.store import tables as t
from directory.store.changes import ChangeReader
from directory.store.store import DirectoryStore
from directory.store.writer import Writer

Clock = Callable[[], datetime]
# Called inside the write transaction when an organisation is suspended or withdrawn
# (the certificate authority hooks revocation here).
StatusHook = Callable[[Writer, Organisation, OrgStatus], None]

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


def _text(value: str | None, field: str, *, limit: int = 300, required: bool = True) -> str | None:
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


def _required(value: str | None, field: str, *, limit: int = 300) -> str:
    out = _text(value, field, limit=limit)
    assert out is not None
    return out


def _period(valid_from: datetime, expires: datetime) -> None:
    if valid_from.tzinfo is None or expires.tzinfo is None:
        raise malformed("times must carry a time zone (e.g. 2026-01-01T00:00:00Z)", field="expires")
    if expires <= valid_from:
        raise malformed("expires must be after valid_from", field="expires")


def _identifiers(values: dict[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for scheme, value in (values or {}).items():
        if scheme not in IDENTIFIER_SCHEMES:
            raise malformed(
                f"unknown identifier scheme {scheme[:40]!r}; known: "
                f"{', '.join(sorted(IDENTIFIER_SCHEMES))}",
                field="identifiers",
            )
        out[scheme] = _required(value, f"identifiers.{scheme}", limit=64)
    return out


@dataclass(frozen=True)
class NewMailbox:
    """One mailbox entry for `Registration.add_mailboxes`."""

    address: str
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    role: str = "person"


def _deny_first(p: Principal | None, action: Action | None) -> None:
    """Before saying a record does not exist, refuse a caller who could not act on any such
    record (an organisation admin learns nothing about other organisations' ids)."""
    if p is not None and action is not None:
        authorize(p, action, None)


def _no_subaddress(addr: Address, domain: Domain) -> None:
    """On a domain that uses sub-addressing, lookups strip the tag: an entry with one could
    never match, so it is refused."""
    if addr.without_subaddress(domain.subaddress_separator) != addr:
        raise malformed(
            f"{addr.text}: {domain.name} uses {domain.subaddress_separator!r} for sub-addresses; "
            "register the mailbox without the tag",
            field="address",
        )


class Registration:
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
            _deny_first(p, action)
            raise not_found(f"no domain {domain_id}")
        return domain

    def domain_named(self, name: str) -> Domain:
        domain = self.store.domain_by_name(normalise_domain(name))
        if domain is None:
            raise not_found(f"no domain {name[:80]!r} in the directory")
        return domain

    # --- organisations --------------------------------------------------------------------
    def create_organisation(
        self,
        p: Principal,
        name: str,
        sector: str,
        identifiers: dict[str, str] | None = None,
    ) -> Organisation:
        authorize(p, Action.CREATE_ORGANISATION)
        clean_name = _required(name, "name")
        try:
            clean_sector = Sector(sector)
        except ValueError:
            raise malformed(
                f"unknown sector {sector[:40]!r}; known: {', '.join(s.value for s in Sector)}",
                field="sector",
            ) from None
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": clean_name,
            "sector": clean_sector.value,
            "status": OrgStatus.APPLIED.value,
            "identifiers": _identifiers(identifiers),
            "vetted_at": None,
            "vetting_evidence": None,
            "review_required": None,
        }
        with self.store.write(p.name, self.clock()) as w:
            w.insert(t.organisations, row, "organisation.create")
        return self._org(row["id"])

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
            changes["name"] = _required(name, "name")
        if identifiers is not None:
            changes["identifiers"] = _identifiers(identifiers)
        if clear_review:
            changes["review_required"] = None
        if not changes:
            raise malformed("nothing to change", field="body")
        with self.store.write(p.name, self.clock()) as w:
            w.update(t.organisations, org_id, changes, "organisation.update")
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
            "vetting_evidence": _required(evidence, "evidence", limit=2000),
        }
        with self.store.write(p.name, now) as w:
            w.update(t.organisations, org_id, changes, "organisation.vet")
        return self._org(org_id)

    def set_status(self, p: Principal, org_id: str, status: str, reason: str) -> Organisation:
        authorize(p, Action.CHANGE_STATUS, org_id)
        org = self._org(org_id)
        try:
            target = OrgStatus(status)
        except ValueError:
            raise malformed(f"unknown status {status[:40]!r}", field="status") from None
        why = _required(reason, "reason", limit=2000)
        if target not in TRANSITIONS[org.status]:
            raise conflict(
                f"an organisation that is {org.status.value} cannot become {target.value}"
            )
        now = self.clock()
        with self.store.write(p.name, now) as w:
            after = w.update(
                t.organisations, org_id, {"status": target.value}, f"organisation.{target.value}"
            )
            w.audit("organisation.status-reason", "organisation", org_id, None, {"reason": why})
            if target in (OrgStatus.SUSPENDED, OrgStatus.WITHDRAWN):
                self._flag_sponsored(w, org, target)
                for hook in self.status_hooks:
                    hook(w, rows.organisation(after), target)
        return self._org(org_id)

    def _flag_sponsored(self, w: Writer, sponsor: Organisation, status: OrgStatus) -> None:
        for s in self.store.sponsorships(sponsor_id=sponsor.id):
            if s.valid_at(w.now):
                note = f"sponsor {sponsor.name} was {status.value} on {w.now.date().isoformat()}"
                w.update(
                    t.organisations,
                    s.sponsored_id,
                    {"review_required": note},
                    "organisation.flag-review",
                )

    # --- domains --------------------------------------------------------------------------
    def claim_domain(
        self, p: Principal, org_id: str, name: str, subaddress_separator: str | None = None
    ) -> Domain:
        authorize(p, Action.MANAGE_DOMAINS, org_id)
        org = self._org(org_id)
        if org.status is OrgStatus.WITHDRAWN:
            raise conflict("a withdrawn organisation cannot claim domains")
        clean = normalise_domain(_required(name, "domain", limit=253))
        if subaddress_separator not in (None, "", "+", "-"):
            raise malformed(
                "subaddress_separator must be '+', '-' or empty", field="subaddress_separator"
            )
        if self.store.domain_by_name(clean) is not None:
            raise conflict(f"{clean} is already claimed in the directory")
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "organisation_id": org_id,
            "name": clean,
            "status": RecordStatus.ACTIVE.value,
            "verified_at": None,
            "verification_method": None,
            "verification_evidence": None,
            "posture": None,
            "subaddress_separator": subaddress_separator or None,
            "challenge_token": None,
            "challenge_expires": None,
        }
        with self.store.write(p.name, self.clock()) as w:
            w.insert(t.domains, row, "domain.claim")
        return self._domain(row["id"])

    def record_domain_verification(self, p: Principal, domain_id: str, evidence: str) -> Domain:
        """Manual, audited domain-control verification (until DNS checks run)."""
        domain = self._domain(domain_id, p, Action.RECORD_VERIFICATION)
        authorize(p, Action.RECORD_VERIFICATION, domain.organisation_id)
        now = self.clock()
        changes = {
            "verified_at": now,
            "verification_method": "manual",
            "verification_evidence": _required(evidence, "evidence", limit=2000),
        }
        with self.store.write(p.name, now) as w:
            w.update(t.domains, domain_id, changes, "domain.verify-manual")
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
            evidence=_required(evidence, "evidence", limit=2000),
        )
        with self.store.write(p.name, now) as w:
            w.update(
                t.domains,
                domain_id,
                {"posture": rows.posture_to_json(posture)},
                "domain.posture-manual",
            )
        return self._domain(domain_id)

    def remove_domain(self, p: Principal, domain_id: str) -> None:
        domain = self._domain(domain_id, p, Action.MANAGE_DOMAINS)
        authorize(p, Action.MANAGE_DOMAINS, domain.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            for r in self.store.recipients(domain.organisation_id, limit=10**9):
                if r.domain_id == domain_id:
                    w.update(
                        t.recipients,
                        r.id,
                        {"status": RecordStatus.REMOVED.value},
                        "recipient.remove",
                    )
            w.update(t.domains, domain_id, {"status": RecordStatus.REMOVED.value}, "domain.remove")

    # --- recipients -----------------------------------------------------------------------
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
            kind, stored_address, excluded = RecipientKind.MAILBOX, addr.text, []
        else:
            dom = self._own_domain(org_id, normalise_domain(_required(domain, "domain", limit=253)))
            if mailbox_verified:
                raise malformed(
                    "a domain-wide entry cannot be mailbox-verified", field="mailbox_verified"
                )
            excluded = sorted({normalise(f"{e}@{dom.name}").local for e in exclusions or []})
            kind, stored_address, clean_role = RecipientKind.DOMAIN, None, RecipientRole.SHARED
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "organisation_id": org_id,
            "domain_id": dom.id,
            "kind": kind.value,
            "address": stored_address,
            "display_name": _text(display_name, "display_name", required=False),
            "given_name": _text(given_name, "given_name", limit=100, required=False),
            "surname": _text(surname, "surname", limit=100, required=False),
            "role": clean_role.value,
            "mailbox_verified_at": now if mailbox_verified else None,
            "exclusions": excluded,
            "status": RecordStatus.ACTIVE.value,
        }
        if (
            kind is RecipientKind.MAILBOX
            and self.store.mailbox_entry(stored_address or "") is not None
        ):
            raise conflict(f"{stored_address} is already in the directory")
        if kind is RecipientKind.DOMAIN and self.store.domain_entry(dom.id) is not None:
            raise conflict(f"{dom.name} already has a domain-wide entry")
        with self.store.write(p.name, now) as w:
            w.insert(t.recipients, row, "recipient.add")
        found = self.store.recipient(row["id"])
        assert found is not None
        return found

    def add_mailboxes(self, p: Principal, org_id: str, mailboxes: Sequence[NewMailbox]) -> int:
        """Many mailbox entries (an import) in one transaction, one audit entry each.

        Validated exactly as `add_recipient`; all or nothing: one bad entry changes nothing."""
        authorize(p, Action.MANAGE_RECIPIENTS, org_id)
        self._org(org_id)
        now = self.clock()
        own = {d.name: d for d in self.store.domains(org_id)}
        new_rows: list[dict[str, Any]] = []
        for m in mailboxes:
            addr = normalise(m.address)
            dom = own.get(addr.domain)
            if dom is None:
                raise conflict(f"{addr.domain} is not a domain of this organisation")
            _no_subaddress(addr, dom)
            clean_role = _role(m.role)
            new_rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "organisation_id": org_id,
                    "domain_id": dom.id,
                    "kind": RecipientKind.MAILBOX.value,
                    "address": addr.text,
                    "display_name": _text(m.display_name, "display_name", required=False),
                    "given_name": _text(m.given_name, "given_name", limit=100, required=False),
                    "surname": _text(m.surname, "surname", limit=100, required=False),
                    "role": clean_role.value,
                    "mailbox_verified_at": None,
                    "exclusions": [],
                    "status": RecordStatus.ACTIVE.value,
                }
            )
        addresses = [r["address"] for r in new_rows]
        if len(set(addresses)) != len(addresses):
            raise conflict("the same address is given more than once")
        existing = ChangeReader(self.store.engine).mailboxes_at(addresses)
        if existing:
            raise conflict(f"{min(existing)} is already in the directory")
        with self.store.write(p.name, now) as w:
            for row in new_rows:
                w.insert(t.recipients, row, "recipient.add")
        return len(new_rows)

    def _own_domain(self, org_id: str, name: str) -> Domain:
        domain = self.store.domain_by_name(name)
        if domain is None or domain.organisation_id != org_id:
            raise conflict(f"{name} is not a domain of this organisation; claim it first")
        return domain

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
            changes["display_name"] = _text(display_name, "display_name", required=False)
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
            w.update(t.recipients, recipient_id, changes, "recipient.update")
        return self._recipient(recipient_id)

    def _recipient(
        self, recipient_id: str, p: Principal | None = None, action: Action | None = None
    ) -> Recipient:
        entry = self.store.recipient(recipient_id)
        if entry is None or entry.status is not RecordStatus.ACTIVE:
            _deny_first(p, action)
            raise not_found(f"no recipient {recipient_id}")
        return entry

    def remove_recipient(self, p: Principal, recipient_id: str) -> None:
        entry = self._recipient(recipient_id, p, Action.MANAGE_RECIPIENTS)
        authorize(p, Action.MANAGE_RECIPIENTS, entry.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            w.update(
                t.recipients,
                recipient_id,
                {"status": RecordStatus.REMOVED.value},
                "recipient.remove",
            )

    # --- accreditations -------------------------------------------------------------------
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
        _period(valid_from, expires)
        clean_scheme = _required(scheme, "scheme", limit=100)
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "organisation_id": org_id,
            "scheme": clean_scheme,
            "evidence": _required(evidence, "evidence", limit=2000),
            "valid_from": valid_from,
            "expires": expires,
            "status": RecordStatus.ACTIVE.value,
        }
        with self.store.write(p.name, self.clock()) as w:
            w.insert(t.accreditations, row, "accreditation.add")
        found = self.store.accreditation(row["id"])
        assert found is not None
        return found

    def end_accreditation(self, p: Principal, accreditation_id: str) -> None:
        found = self.store.accreditation(accreditation_id)
        if found is None or found.status is not RecordStatus.ACTIVE:
            _deny_first(p, Action.MANAGE_ACCREDITATIONS)
            raise not_found(f"no accreditation {accreditation_id}")
        authorize(p, Action.MANAGE_ACCREDITATIONS, found.organisation_id)
        with self.store.write(p.name, self.clock()) as w:
            w.update(
                t.accreditations,
                accreditation_id,
                {"status": RecordStatus.REMOVED.value},
                "accreditation.end",
            )

    # --- sponsorships ---------------------------------------------------------------------
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
        _period(valid_from, expires)
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "sponsor_id": sponsor_id,
            "sponsored_id": sponsored_id,
            "purpose": _required(purpose, "purpose", limit=2000),
            "ceiling": level.name,
            "valid_from": valid_from,
            "expires": expires,
            "status": RecordStatus.ACTIVE.value,
        }
        with self.store.write(p.name, self.clock()) as w:
            w.insert(t.sponsorships, row, "sponsorship.add")
        found = self.store.sponsorship(row["id"])
        assert found is not None
        return found

    def end_sponsorship(self, p: Principal, sponsorship_id: str) -> None:
        found = self.store.sponsorship(sponsorship_id)
        if found is None or found.status is not RecordStatus.ACTIVE:
            _deny_first(p, Action.SPONSOR)
            raise not_found(f"no sponsorship {sponsorship_id}")
        authorize(p, Action.SPONSOR, found.sponsor_id)
        with self.store.write(p.name, self.clock()) as w:
            w.update(
                t.sponsorships,
                sponsorship_id,
                {"status": RecordStatus.REMOVED.value},
                "sponsorship.end",
            )
            w.update(
                t.organisations,
                found.sponsored_id,
                {"review_required": "its sponsorship was ended"},
                "organisation.flag-review",
            )

    # --- API keys -------------------------------------------------------------------------
    def create_api_key(self, p: Principal, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        authorize(p, Action.MANAGE_API_KEYS)
        if not scopes:
            raise malformed("at least one scope is required", field="scopes")
        clean = sorted({check_scope(s) for s in scopes})
        for scope in clean:
            if scope.startswith("org-admin:") and self.store.organisation(scope[10:]) is None:
                raise not_found(f"no organisation {scope[10:]} for scope {scope}")
        secret = apikeys.new_secret()
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": _required(name, "name", limit=200),
            "key_hash": apikeys.key_hash(secret),
            "scopes": clean,
            "created_by": p.name,
            "revoked_at": None,
        }
        with self.store.write(p.name, self.clock()) as w:
            w.insert(t.api_keys, row, "api-key.create")
        key = self.store.api_key(row["id"])
        assert key is not None
        return key, secret

    def revoke_api_key(self, p: Principal, key_id: str) -> None:
        authorize(p, Action.MANAGE_API_KEYS)
        key = self.store.api_key(key_id)
        if key is None or key.revoked_at is not None:
            raise not_found(f"no active API key {key_id}")
        now = self.clock()
        with self.store.write(p.name, now) as w:
            w.update(t.api_keys, key_id, {"revoked_at": now}, "api-key.revoke")


def _role(value: str) -> RecipientRole:
    """A mailbox entry's role, or malformed naming the roles there are."""
    try:
        return RecipientRole(value)
    except ValueError:
        roles = ", ".join(r.value for r in RecipientRole)
        raise malformed(f"role must be one of {roles}", field="role") from None
