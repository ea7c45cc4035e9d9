"""One write transaction: a change sequence number, row changes, and their audit entries.

Every write to the register goes through `Writer`, so that every change bumps the store's change
sequence (which drives cache invalidation and LDAP sync) and is written to the hash-chained audit
log in the same transaction, with who, when, what, before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy import delete as sql_delete

from directory.errors import not_found
from directory.store import tables as t
from directory.store.audit import entry_hash
from directory.store.records import READERS, TABLES, R, Record, row_of, values_of
from directory.store.rows import jsonable

# Changes to these tables invalidate the per-process register snapshot used by lookups.
UNDELETABLE = frozenset({"recipients", "certificates"})
REGISTER_TABLES = frozenset(
    {
        "organisations",
        "domains",
        "accreditations",
        "sponsorships",
        "api_keys",
        "recipients",
        "federation_peers",
        "federated_domains",
    }
)


# Never written to the audit log (which admins can read): an API key's hash.
SECRET_COLUMNS = frozenset({"key_hash"})


class Writer:
    def __init__(self, conn: Connection, actor: str, now: datetime) -> None:
        self.conn = conn
        self.actor = actor
        self.now = now.astimezone(UTC)
        state = conn.execute(
            update(t.directory_state)
            .where(t.directory_state.c.id == 1)
            .values(seq=t.directory_state.c.seq + 1)
            .returning(
                t.directory_state.c.seq,
                t.directory_state.c.audit_position,
                t.directory_state.c.audit_head,
            )
        ).one()
        self.seq: int = state.seq
        self._position: int = state.audit_position
        self._head: str = state.audit_head
        self._register_touched = False
        self._audited = False

    # --- register records -----------------------------------------------------------------
    def add(self, record: Record, action: str, **columns: Any) -> None:
        """Insert a register record (directory/model.py), with any columns its type does not
        carry (an API key's hash)."""
        self.insert(TABLES[type(record)], {**row_of(record), **values_of(columns)}, action)

    def change(self, kind: type[R], key: str, changes: Mapping[str, Any], action: str) -> R:
        """Change one record of this type by its columns (typed values: enums, postures); return
        the record after. Unchanged records are still audited."""
        after = self.update(TABLES[kind], key, values_of(changes), action)
        record: R = READERS[kind](after)
        return record

    # --- rows -----------------------------------------------------------------------------
    def insert(self, table: Table, row: dict[str, Any], action: str, *, audit: bool = True) -> None:
        values = dict(row)
        if "change_seq" in table.c:
            values["change_seq"] = self.seq
        if "created_at" in table.c and "created_at" not in values:
            values["created_at"] = self.now
        self.conn.execute(table.insert().values(**values))
        self._touch(table, values)
        if audit:
            shown = {k: v for k, v in values.items() if k not in SECRET_COLUMNS}
            self.audit(action, _entity(table), str(_key(table, values)), None, shown)

    def update(
        self, table: Table, key: str, changes: dict[str, Any], action: str
    ) -> dict[str, Any]:
        """Apply changes to one row; return the row after. Unchanged rows are still audited."""
        pk = next(iter(table.primary_key.columns))
        before_row = self.conn.execute(select(table).where(pk == key)).mappings().one_or_none()
        if before_row is None:
            raise not_found(f"no {_entity(table)} {key}")
        before = dict(before_row)
        values = dict(changes)
        if "change_seq" in table.c:
            values["change_seq"] = self.seq
        self.conn.execute(update(table).where(pk == key).values(**values))
        after = {**before, **values}
        self._touch(table, after)
        self.audit(
            action,
            _entity(table),
            key,
            {k: v for k, v in before.items() if k not in SECRET_COLUMNS},
            {k: v for k, v in after.items() if k not in SECRET_COLUMNS},
        )
        return after

    def delete(self, table: Table, key: str, action: str) -> dict[str, Any]:
        """Delete one row (audited with its content before); return that row. Recipients and
        certificates are withdrawn or revoked, never deleted: the lookup mirror and LDAP sync
        follow their change_seq, which a deleted row no longer has."""
        if table.name in UNDELETABLE:
            raise ValueError(f"{table.name} rows are withdrawn or revoked, never deleted")
        pk = next(iter(table.primary_key.columns))
        before_row = self.conn.execute(select(table).where(pk == key)).mappings().one_or_none()
        if before_row is None:
            raise not_found(f"no {_entity(table)} {key}")
        before = dict(before_row)
        self.conn.execute(sql_delete(table).where(pk == key))
        self._touch(table, before)
        shown = {k: v for k, v in before.items() if k not in SECRET_COLUMNS}
        self.audit(action, _entity(table), key, shown, None)
        return before

    def _touch(self, table: Table, row: dict[str, Any]) -> None:
        if table.name in REGISTER_TABLES and (
            table.name != "recipients" or row.get("kind") == "domain"
        ):
            self._register_touched = True

    # --- audit ----------------------------------------------------------------------------
    def audit(
        self,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        before_json = jsonable(before) if before is not None else None
        after_json = jsonable(after) if after is not None else None
        position = self._position + 1
        digest = entry_hash(
            self._head,
            position,
            self.now,
            self.actor,
            action,
            entity,
            entity_id,
            before_json,
            after_json,
        )
        self.conn.execute(
            t.audit_log.insert().values(
                position=position,
                at=self.now,
                actor=self.actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=before_json,
                after=after_json,
                prev_hash=self._head,
                hash=digest,
            )
        )
        self._position, self._head = position, digest
        self._audited = True

    def finish(self) -> None:
        values: dict[str, Any] = {"audit_position": self._position, "audit_head": self._head}
        if self._register_touched:
            values["register_seq"] = self.seq
        self.conn.execute(
            update(t.directory_state).where(t.directory_state.c.id == 1).values(**values)
        )


def _entity(table: Table) -> str:
    return {
        "organisations": "organisation",
        "domains": "domain",
        "recipients": "recipient",
        "accreditations": "accreditation",
        "sponsorships": "sponsorship",
        "certificates": "certificate",
        "precertificates": "precertificate",
        "api_keys": "api-key",
        "federation_peers": "federation-peer",
    }.get(table.name, table.name)


def _key(table: Table, values: dict[str, Any]) -> Any:
    pk = next(iter(table.primary_key.columns))
    return values[pk.name]
