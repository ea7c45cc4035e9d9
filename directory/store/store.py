"""DirectoryStore: the only way the rest of the directory reads and writes the register."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from directory.errors import DirectoryError, ErrorKind, conflict
from directory.federation.records import FederatedDomain
from directory.model import (
    Accreditation,
    ApiKey,
    AuditEntry,
    Domain,
    Organisation,
    Recipient,
    RecipientKind,
    RecordStatus,
    Sponsorship,
)
from directory.store import rows
from directory.store import tables as t
from directory.store.audit import GENESIS, AuditProblem, entry_hash
from directory.store.fastpath import MailboxFinder
from directory.store.federated import federated_domains
from directory.store.mirror import LookupMirror, MirroredFinder
from directory.store.writer import Writer


@dataclass(frozen=True)
class StoreState:
    seq: int
    register_seq: int


@dataclass(frozen=True)
class RegisterData:
    """Everything a lookup needs that is small: loaded whole into each process's snapshot."""

    state: StoreState
    organisations: list[Organisation]
    domains: list[Domain]
    accreditations: list[Accreditation]
    sponsorships: list[Sponsorship]
    domain_entries: list[Recipient]
    api_keys: dict[str, ApiKey]  # key hash -> key
    federated_domains: list[FederatedDomain] = field(default_factory=list)  # of active peers


class DirectoryStore:
    def __init__(self, engine: Engine, *, mirror: LookupMirror | None = None) -> None:
        """`mirror`: a local copy for the lookup's mailbox reads (directory/store/mirror.py)."""
        self.engine = engine
        self.mailboxes: MailboxFinder | MirroredFinder = MailboxFinder(engine)
        if mirror is not None:
            self.mailboxes = MirroredFinder(self.mailboxes, mirror)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.mailboxes.close()
        self.engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read connection; any driver or database error means the store cannot answer."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise DirectoryError(
                ErrorKind.UNAVAILABLE, "the directory store cannot answer now"
            ) from exc

    # --- writing --------------------------------------------------------------------------
    @contextmanager
    def write(self, actor: str, now: datetime) -> Iterator[Writer]:
        """A write transaction. Integrity errors become conflicts; nothing is half-written."""
        try:
            with self.engine.begin() as conn:
                writer = Writer(conn, actor, now)
                yield writer
                writer.finish()
            self.mailboxes.renew()  # lookups in this process read what was just written
        except IntegrityError as exc:
            raise conflict(
                f"the change conflicts with an existing record ({_first_line(exc)})"
            ) from None
        except SQLAlchemyError as exc:
            raise DirectoryError(ErrorKind.UNAVAILABLE, "the store cannot be written now") from exc

    def initialise_state(self) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(t.directory_state.c.id)).first()
            if exists is None:
                conn.execute(
                    t.directory_state.insert().values(
                        id=1,
                        seq=0,
                        register_seq=0,
                        audit_position=0,
                        audit_head=GENESIS,
                        instance=str(uuid.uuid4()),
                    )
                )

    # --- state ----------------------------------------------------------------------------
    def state(self) -> StoreState:
        with self.reading() as conn:
            row = conn.execute(
                select(t.directory_state.c.seq, t.directory_state.c.register_seq)
            ).one()
        return StoreState(row.seq, row.register_seq)

    def register_data(self) -> RegisterData:
        with self.reading() as conn:
            state_row = conn.execute(
                select(t.directory_state.c.seq, t.directory_state.c.register_seq)
            ).one()
            orgs = [rows.organisation(r) for r in conn.execute(select(t.organisations)).mappings()]
            doms = [
                rows.domain(r)
                for r in conn.execute(
                    select(t.domains).where(t.domains.c.status == RecordStatus.ACTIVE)
                ).mappings()
            ]
            accs = [
                rows.accreditation(r)
                for r in conn.execute(
                    select(t.accreditations).where(t.accreditations.c.status == RecordStatus.ACTIVE)
                ).mappings()
            ]
            sps = [
                rows.sponsorship(r)
                for r in conn.execute(
                    select(t.sponsorships).where(t.sponsorships.c.status == RecordStatus.ACTIVE)
                ).mappings()
            ]
            entries = [
                rows.recipient(r)
                for r in conn.execute(
                    select(t.recipients).where(
                        and_(
                            t.recipients.c.kind == RecipientKind.DOMAIN,
                            t.recipients.c.status == RecordStatus.ACTIVE,
                        )
                    )
                ).mappings()
            ]
            keys = {
                r["key_hash"]: rows.api_key(r)
                for r in conn.execute(
                    select(t.api_keys).where(t.api_keys.c.revoked_at.is_(None))
                ).mappings()
            }
            federated = federated_domains(conn)
        return RegisterData(
            StoreState(state_row.seq, state_row.register_seq),
            orgs,
            doms,
            accs,
            sps,
            entries,
            keys,
            federated,
        )

    # --- reading single records -----------------------------------------------------------
    def _one(self, table: Table, column: str, value: Any) -> dict[str, Any] | None:
        with self.reading() as conn:
            row = conn.execute(select(table).where(table.c[column] == value)).mappings().first()
        return dict(row) if row is not None else None

    def _many(self, query: Any) -> list[dict[str, Any]]:
        with self.reading() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def organisation(self, org_id: str) -> Organisation | None:
        row = self._one(t.organisations, "id", org_id)
        return rows.organisation(row) if row else None

    def organisations(self) -> list[Organisation]:
        query = select(t.organisations).order_by(t.organisations.c.name)
        return [rows.organisation(r) for r in self._many(query)]

    def domain(self, domain_id: str) -> Domain | None:
        row = self._one(t.domains, "id", domain_id)
        return rows.domain(row) if row else None

    def domain_by_name(self, name: str) -> Domain | None:
        query = select(t.domains).where(
            and_(t.domains.c.name == name, t.domains.c.status == RecordStatus.ACTIVE)
        )
        found = self._many(query)
        return rows.domain(found[0]) if found else None

    def domain_row(self, domain_id: str) -> dict[str, Any] | None:
        return self._one(t.domains, "id", domain_id)

    def domains(self, organisation_id: str | None = None) -> list[Domain]:
        query = select(t.domains).where(t.domains.c.status == RecordStatus.ACTIVE)
        if organisation_id:
            query = query.where(t.domains.c.organisation_id == organisation_id)
        return [rows.domain(r) for r in self._many(query.order_by(t.domains.c.name))]

    def recipient(self, recipient_id: str) -> Recipient | None:
        row = self._one(t.recipients, "id", recipient_id)
        return rows.recipient(row) if row else None

    def recipients(
        self, organisation_id: str, *, limit: int = 1000, offset: int = 0
    ) -> list[Recipient]:
        query = (
            select(t.recipients)
            .where(
                and_(
                    t.recipients.c.organisation_id == organisation_id,
                    t.recipients.c.status == RecordStatus.ACTIVE,
                )
            )
            .order_by(t.recipients.c.kind, t.recipients.c.address)
            .limit(limit)
            .offset(offset)
        )
        return [rows.recipient(r) for r in self._many(query)]

    def mailbox_entry(self, address: str) -> Recipient | None:
        query = select(t.recipients).where(
            and_(
                t.recipients.c.address == address,
                t.recipients.c.kind == RecipientKind.MAILBOX,
                t.recipients.c.status == RecordStatus.ACTIVE,
            )
        )
        found = self._many(query)
        return rows.recipient(found[0]) if found else None

    def domain_entry(self, domain_id: str) -> Recipient | None:
        query = select(t.recipients).where(
            and_(
                t.recipients.c.domain_id == domain_id,
                t.recipients.c.kind == RecipientKind.DOMAIN,
                t.recipients.c.status == RecordStatus.ACTIVE,
            )
        )
        found = self._many(query)
        return rows.recipient(found[0]) if found else None

    def accreditation(self, accreditation_id: str) -> Accreditation | None:
        row = self._one(t.accreditations, "id", accreditation_id)
        return rows.accreditation(row) if row else None

    def accreditations(self, organisation_id: str) -> list[Accreditation]:
        query = select(t.accreditations).where(
            t.accreditations.c.organisation_id == organisation_id
        )
        return [rows.accreditation(r) for r in self._many(query)]

    def sponsorship(self, sponsorship_id: str) -> Sponsorship | None:
        row = self._one(t.sponsorships, "id", sponsorship_id)
        return rows.sponsorship(row) if row else None

    def sponsorships(
        self, *, sponsor_id: str | None = None, sponsored_id: str | None = None
    ) -> list[Sponsorship]:
        query = select(t.sponsorships)
        if sponsor_id:
            query = query.where(t.sponsorships.c.sponsor_id == sponsor_id)
        if sponsored_id:
            query = query.where(t.sponsorships.c.sponsored_id == sponsored_id)
        return [rows.sponsorship(r) for r in self._many(query)]

    def api_keys(self) -> list[ApiKey]:
        query = select(t.api_keys).order_by(t.api_keys.c.created_at)
        return [rows.api_key(r) for r in self._many(query)]

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = self._one(t.api_keys, "key_hash", key_hash)
        return rows.api_key(row) if row else None

    def api_key(self, key_id: str) -> ApiKey | None:
        row = self._one(t.api_keys, "id", key_id)
        return rows.api_key(row) if row else None

    def count(self, table: Table) -> int:
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    # --- audit ----------------------------------------------------------------------------
    def audit_entries(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        entity_id: str | None = None,
    ) -> list[AuditEntry]:
        query = select(t.audit_log).where(t.audit_log.c.position > after)
        if entity_id:
            query = query.where(t.audit_log.c.entity_id == entity_id)
        query = query.order_by(t.audit_log.c.position).limit(limit)
        return [_audit_entry(r) for r in self._many(query)]

    def verify_audit(self, batch: int = 5000) -> tuple[int, list[AuditProblem]]:
        """Recompute the chain. Returns (entries checked, problems found)."""
        problems: list[AuditProblem] = []
        prev_hash, expected, checked = GENESIS, 1, 0
        with self.reading() as conn:
            head = conn.execute(
                select(t.directory_state.c.audit_position, t.directory_state.c.audit_head)
            ).one()
            last = 0
            while True:
                chunk = list(
                    conn.execute(
                        select(t.audit_log)
                        .where(t.audit_log.c.position > last)
                        .order_by(t.audit_log.c.position)
                        .limit(batch)
                    ).mappings()
                )
                if not chunk:
                    break
                for row in chunk:
                    checked += 1
                    position = row["position"]
                    if position != expected:
                        problems.append(
                            AuditProblem(
                                expected,
                                "deleted",
                                f"entries {expected}..{position - 1} are missing",
                            )
                        )
                    if row["prev_hash"] != prev_hash:
                        problems.append(
                            AuditProblem(
                                position,
                                "inserted or reordered",
                                "its previous-hash does not match the entry before it",
                            )
                        )
                    recomputed = entry_hash(
                        row["prev_hash"],
                        position,
                        row["at"],
                        row["actor"],
                        row["action"],
                        row["entity"],
                        row["entity_id"],
                        row["before"],
                        row["after"],
                    )
                    if recomputed != row["hash"]:
                        problems.append(
                            AuditProblem(position, "edited", "its content does not match its hash")
                        )
                    prev_hash, expected = row["hash"], position + 1
                last = chunk[-1]["position"]
            if head.audit_position != expected - 1 or head.audit_head != prev_hash:
                problems.append(
                    AuditProblem(
                        head.audit_position,
                        "head mismatch",
                        f"the recorded head is entry {head.audit_position} but the log ends at "
                        f"entry {expected - 1} (entries deleted from the end, or appended "
                        "outside Clearance)",
                    )
                )
        return checked, problems


def _audit_entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        position=row["position"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        before=row["before"],
        after=row["after"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]
