"""Read-only queries for publishing and importing: what changed since a change sequence number,
and the register's entries in pages (keyset paging, so a large directory streams)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, or_, select

from directory.store import tables as t

CHUNK = 500  # values per IN (...) list


@dataclass(frozen=True, slots=True)
class MailboxFacts:
    """A mailbox entry's own facts that the LDAP entry shows beside the lookup answer."""

    address: str
    organisation_id: str
    domain_id: str
    display_name: str | None
    given_name: str | None
    surname: str | None


@dataclass(frozen=True, slots=True)
class DomainEntryFacts:
    domain_id: str
    domain: str
    organisation_id: str
    exclusions: tuple[str, ...]


@dataclass
class Changes:
    """Everything written after a change sequence number, as the records it touches."""

    seq: int  # the store's sequence when read: sync up to here
    organisations: set[str] = field(default_factory=set)  # ids whose every entry re-evaluates
    domain_entries: set[str] = field(default_factory=set)  # domain ids (domain-wide entries)
    addresses: set[str] = field(default_factory=set)  # mailbox addresses (any status)


class ChangeReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def changes_since(self, seq: int) -> Changes:
        """Rows with change_seq > seq. The sequence is read first: a write committed later is
        read again by the next sync (re-publishing is idempotent)."""
        with self.engine.connect() as conn:
            current = int(conn.execute(select(t.directory_state.c.seq)).scalar_one())
            out = Changes(current)
            out.organisations.update(
                conn.execute(
                    select(t.organisations.c.id).where(t.organisations.c.change_seq > seq)
                ).scalars()
            )
            out.organisations.update(
                conn.execute(
                    select(t.domains.c.organisation_id).where(t.domains.c.change_seq > seq)
                ).scalars()
            )
            out.organisations.update(
                conn.execute(
                    select(t.accreditations.c.organisation_id).where(
                        t.accreditations.c.change_seq > seq
                    )
                ).scalars()
            )
            out.organisations.update(
                conn.execute(
                    select(t.sponsorships.c.sponsored_id).where(t.sponsorships.c.change_seq > seq)
                ).scalars()
            )
            r = t.recipients
            for kind, address, domain_id in conn.execute(
                select(r.c.kind, r.c.address, r.c.domain_id).where(r.c.change_seq > seq)
            ):
                if kind == "mailbox" and address:
                    out.addresses.add(address)
                else:
                    out.domain_entries.add(domain_id)
            c = t.certificates
            for address, email in conn.execute(
                select(r.c.address, c.c.email)
                .select_from(c.outerjoin(r, r.c.id == c.c.recipient_id))
                .where(c.c.change_seq > seq)
            ):
                out.addresses.add(address or email)
        return out

    def sponsored_by(self, sponsor_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        s = t.sponsorships
        for chunk in _chunks(sponsor_ids):
            with self.engine.connect() as conn:
                found.update(
                    conn.execute(
                        select(s.c.sponsored_id).where(s.c.sponsor_id.in_(chunk))
                    ).scalars()
                )
        return found

    def mailboxes(
        self, organisation_ids: Collection[str] | None = None, *, page: int = 1000
    ) -> Iterator[list[MailboxFacts]]:
        """Active mailbox entries (of the given organisations, or all), in address order."""
        r = t.recipients
        base = and_(r.c.status == "active", r.c.kind == "mailbox")
        if organisation_ids is not None:
            if not organisation_ids:
                return
            base = and_(base, r.c.organisation_id.in_(list(organisation_ids)))
        after = ""
        while True:
            query = (
                select(
                    r.c.address,
                    r.c.organisation_id,
                    r.c.domain_id,
                    r.c.display_name,
                    r.c.given_name,
                    r.c.surname,
                )
                .where(and_(base, r.c.address > after))
                .order_by(r.c.address)
                .limit(page)
            )
            with self.engine.connect() as conn:
                batch = [MailboxFacts(*row) for row in conn.execute(query)]
            if not batch:
                return
            yield batch
            after = batch[-1].address

    def mailboxes_at(self, addresses: Collection[str]) -> dict[str, MailboxFacts]:
        r = t.recipients
        out: dict[str, MailboxFacts] = {}
        for chunk in _chunks(addresses):
            query = select(
                r.c.address,
                r.c.organisation_id,
                r.c.domain_id,
                r.c.display_name,
                r.c.given_name,
                r.c.surname,
            ).where(and_(r.c.status == "active", r.c.kind == "mailbox", r.c.address.in_(chunk)))
            with self.engine.connect() as conn:
                out.update({row[0]: MailboxFacts(*row) for row in conn.execute(query)})
        return out

    def domain_entries(
        self,
        *,
        domain_ids: Collection[str] | None = None,
        organisation_ids: Collection[str] | None = None,
    ) -> list[DomainEntryFacts]:
        """Active domain-wide entries on active domains (all, or of these domains/orgs)."""
        r, d = t.recipients, t.domains
        query = (
            select(d.c.id, d.c.name, d.c.organisation_id, r.c.exclusions)
            .select_from(r.join(d, d.c.id == r.c.domain_id))
            .where(and_(r.c.status == "active", r.c.kind == "domain", d.c.status == "active"))
        )
        conditions = []
        if domain_ids is not None:
            conditions.append(d.c.id.in_(list(domain_ids)))
        if organisation_ids is not None:
            conditions.append(d.c.organisation_id.in_(list(organisation_ids)))
        if conditions:
            query = query.where(or_(*conditions))
        with self.engine.connect() as conn:
            return [
                DomainEntryFacts(row[0], row[1], row[2], tuple(row[3] or ()))
                for row in conn.execute(query)
            ]

    def mailbox_local_parts(self, domain_ids: Collection[str]) -> dict[str, set[str]]:
        """Local parts of the active mailbox entries on each domain."""
        r = t.recipients
        out: dict[str, set[str]] = {d: set() for d in domain_ids}
        for chunk in _chunks(domain_ids):
            query = select(r.c.domain_id, r.c.address).where(
                and_(r.c.status == "active", r.c.kind == "mailbox", r.c.domain_id.in_(chunk))
            )
            with self.engine.connect() as conn:
                for domain_id, address in conn.execute(query):
                    out[domain_id].add(address.rpartition("@")[0])
        return out

    def active_addresses(self, addresses: Collection[str]) -> set[str]:
        return set(self.mailboxes_at(addresses))


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    items = list(values)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
