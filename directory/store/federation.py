"""Federation reads and writes: peers, and the domains and mailboxes their trust lists assert
(the snapshot's read of the federated domains is directory/store/federated.py).

Every write goes through the audited `Writer` (one transaction, one change sequence number). A
peer's entries are replaced wholesale on each import: the peer row's update (and removal) bumps
the register sequence, so every process's snapshot reloads its federated domains.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, select

from directory.errors import conflict, not_found
from directory.federation.records import (
    FederatedMailbox,
    Peer,
    PeerStatus,
    permits,
)
from directory.model import RecordStatus, TrustLevel
from directory.store import tables as t

if TYPE_CHECKING:
    from directory.store.store import DirectoryStore

CHUNK = 500  # values per IN (...) list, rows per INSERT


def _peer(row: Any) -> Peer:
    return Peer(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        public_key=row["public_key"],
        key_id=row["key_id"],
        max_trust=TrustLevel.from_label(row["max_trust"]),
        permitted=tuple(row["permitted_domains"]),
        status=PeerStatus(row["status"]),
        created_at=row["created_at"],
        changed_at=row["changed_at"],
        list_issued_at=row["list_issued_at"],
        list_valid_until=row["list_valid_until"],
        list_digest=row["list_digest"],
    )


class FederationStore:
    def __init__(self, store: DirectoryStore) -> None:
        self.store = store

    # --- reads ----------------------------------------------------------------------------
    def peers(self) -> list[Peer]:
        with self.store.reading() as conn:
            query = select(t.federation_peers).order_by(t.federation_peers.c.name)
            return [_peer(r) for r in conn.execute(query).mappings()]

    def peer(self, name: str) -> Peer | None:
        with self.store.reading() as conn:
            query = select(t.federation_peers).where(t.federation_peers.c.name == name)
            row = conn.execute(query).mappings().first()
        return _peer(row) if row is not None else None

    def counts(self, peer_id: str) -> tuple[int, int]:
        """(domains, mailboxes) held for the peer."""
        with self.store.reading() as conn:
            domains = conn.execute(
                select(func.count()).where(t.federated_domains.c.peer_id == peer_id)
            ).scalar_one()
            mailboxes = conn.execute(
                select(func.count()).where(t.federated_mailboxes.c.peer_id == peer_id)
            ).scalar_one()
        return int(domains), int(mailboxes)

    def mailbox(self, address: str) -> FederatedMailbox | None:
        """A federated mailbox entry by normalised address (a lookup's read)."""
        m = t.federated_mailboxes
        query = select(m.c.address, m.c.domain_id, m.c.role, m.c.mailbox_verified).where(
            m.c.address == address
        )
        with self.store.reading() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return FederatedMailbox(row[0], row[1], row[2], bool(row[3]))

    def owners(self, domains: Collection[str]) -> dict[str, str]:
        """Which peer (name) lists each of these domains now."""
        d, p = t.federated_domains, t.federation_peers
        out: dict[str, str] = {}
        with self.store.reading() as conn:
            for chunk in _chunks(list(domains)):
                query = (
                    select(d.c.domain, p.c.name)
                    .select_from(d.join(p, p.c.id == d.c.peer_id))
                    .where(d.c.domain.in_(chunk))
                )
                out.update({row[0]: row[1] for row in conn.execute(query)})
        return out

    def local_domains(self, domains: Collection[str]) -> set[str]:
        """Which of these domains the local register holds (active, any organisation state)."""
        d = t.domains
        found: set[str] = set()
        with self.store.reading() as conn:
            for chunk in _chunks(list(domains)):
                query = select(d.c.name).where(
                    and_(d.c.status == RecordStatus.ACTIVE, d.c.name.in_(chunk))
                )
                found.update(conn.execute(query).scalars())
        return found

    def local_mailboxes(self, domain_ids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
        """Active local mailbox entries of these domains, for a trust list, in address order."""
        r = t.recipients
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in domain_ids}
        with self.store.reading() as conn:
            for chunk in _chunks(list(domain_ids)):
                query = (
                    select(r.c.domain_id, r.c.address, r.c.role, r.c.mailbox_verified_at)
                    .where(
                        and_(
                            r.c.status == RecordStatus.ACTIVE,
                            r.c.kind == "mailbox",
                            r.c.domain_id.in_(chunk),
                        )
                    )
                    .order_by(r.c.address)
                )
                for domain_id, address, role, verified_at in conn.execute(query):
                    out[domain_id].append(
                        {
                            "address": address,
                            "role": role,
                            "mailbox_verified": verified_at is not None,
                        }
                    )
        return out

    # --- writes ---------------------------------------------------------------------------
    def add_peer(self, actor: str, now: datetime, values: dict[str, Any]) -> Peer:
        if self.peer(values["name"]) is not None:
            raise conflict(f"a peer named {values['name']!r} already exists")
        row = {
            "id": str(uuid.uuid4()),
            **values,
            "status": PeerStatus.ACTIVE.value,
            "changed_at": now,
            "list_issued_at": None,
            "list_valid_until": None,
            "list_digest": None,
        }
        with self.store.write(actor, now) as w:
            w.insert(t.federation_peers, row, "federation.peer-add")
        return self._existing(values["name"])

    def set_status(self, actor: str, now: datetime, name: str, status: PeerStatus) -> Peer:
        peer = self._existing(name)
        with self.store.write(actor, now) as w:
            w.update(
                t.federation_peers,
                peer.id,
                {"status": status.value, "changed_at": now},
                f"federation.peer-{'suspend' if status is PeerStatus.SUSPENDED else 'resume'}",
            )
        return self._existing(name)

    def set_permitted(
        self, actor: str, now: datetime, name: str, permitted: tuple[str, ...]
    ) -> Peer:
        """New name constraints for the peer; what it listed outside them is removed at once."""
        peer = self._existing(name)
        d, m = t.federated_domains, t.federated_mailboxes
        with self.store.write(actor, now) as w:
            held = w.conn.execute(select(d.c.id, d.c.domain).where(d.c.peer_id == peer.id))
            outside = [row[0] for row in held if not permits(permitted, row[1])]
            for chunk in _chunks(outside):
                w.conn.execute(delete(m).where(m.c.domain_id.in_(chunk)))
                w.conn.execute(delete(d).where(d.c.id.in_(chunk)))
            w.update(
                t.federation_peers,
                peer.id,
                {"permitted_domains": list(permitted), "changed_at": now},
                "federation.peer-constrain",
            )
        return self._existing(name)

    def remove_peer(self, actor: str, now: datetime, name: str) -> None:
        """Remove the peer and everything imported from it, in one audited transaction."""
        peer = self._existing(name)
        with self.store.write(actor, now) as w:
            self._clear(w.conn, peer.id)
            w.delete(t.federation_peers, peer.id, "federation.peer-remove")

    def replace_entries(
        self,
        actor: str,
        now: datetime,
        peer: Peer,
        domains: Sequence[dict[str, Any]],
        mailboxes: Sequence[dict[str, Any]],
        list_facts: dict[str, Any],
        report: dict[str, Any],
    ) -> None:
        """Replace the peer's entries with these rows and record the list's facts: one
        transaction, audited as one import entry (with the report) plus the peer row's update.
        `domains` rows carry an "id"; `mailboxes` rows a "domain_id" among them."""
        with self.store.write(actor, now) as w:
            current = w.conn.execute(
                select(
                    t.federation_peers.c.list_issued_at,
                    t.federation_peers.c.status,
                    t.federation_peers.c.permitted_domains,
                ).where(t.federation_peers.c.id == peer.id)
            ).one_or_none()
            if current is None:
                raise not_found(f"no federation peer {peer.name!r}")
            if current[1] != PeerStatus.ACTIVE:
                raise conflict(f"peer {peer.name!r} is suspended: resume it before importing")
            if tuple(current[2]) != peer.permitted:
                raise conflict(f"peer {peer.name!r}'s name constraints changed: import again")
            last = current[0]
            if last is not None and list_facts["list_issued_at"] <= last:
                raise conflict(
                    f"the list was issued at {list_facts['list_issued_at'].isoformat()}, not "
                    f"after the last one imported ({last.isoformat()}): a replay or rollback"
                )
            self._clear(w.conn, peer.id)
            for chunk in _batches(domains):
                w.conn.execute(
                    t.federated_domains.insert(),
                    [{**row, "peer_id": peer.id, "change_seq": w.seq} for row in chunk],
                )
            for chunk in _batches(mailboxes):
                w.conn.execute(
                    t.federated_mailboxes.insert(),
                    [
                        {**row, "id": str(uuid.uuid4()), "peer_id": peer.id, "change_seq": w.seq}
                        for row in chunk
                    ],
                )
            w.update(
                t.federation_peers,
                peer.id,
                {**list_facts, "changed_at": now},
                "federation.list-import",
            )
            w.audit("federation.list-import-report", "federation-peer", peer.id, None, report)

    def _clear(self, conn: Connection, peer_id: str) -> None:
        conn.execute(
            delete(t.federated_mailboxes).where(t.federated_mailboxes.c.peer_id == peer_id)
        )
        conn.execute(delete(t.federated_domains).where(t.federated_domains.c.peer_id == peer_id))

    def _existing(self, name: str) -> Peer:
        peer = self.peer(name)
        if peer is None:
            raise not_found(f"no federation peer {name!r}")
        return peer


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield list(rows[i : i + CHUNK])
