"""The federated domains as the register snapshot loads them: the domains of every ACTIVE peer
that has imported a list. Apart from directory/store/federation.py (the peers' reads and
writes), so that the store and the federation store do not import each other."""

from __future__ import annotations

from sqlalchemy import Connection, and_, select

from directory.federation.records import FederatedDomain, PeerStatus
from directory.model import TrustLevel
from directory.store import tables as t
from directory.store.rows import posture_from_json


def federated_domains(conn: Connection) -> list[FederatedDomain]:
    """The domains of every ACTIVE peer that has imported a list (for the register snapshot).
    A suspended peer's entries are not loaded at all: they count for nothing."""
    p, d = t.federation_peers, t.federated_domains
    query = (
        select(d, p.c.name.label("peer_name"), p.c.max_trust, p.c.list_valid_until)
        .select_from(d.join(p, p.c.id == d.c.peer_id))
        .where(and_(p.c.status == PeerStatus.ACTIVE, p.c.list_valid_until.is_not(None)))
    )
    out = []
    for row in conn.execute(query).mappings():
        out.append(
            FederatedDomain(
                id=row["id"],
                peer_name=row["peer_name"],
                peer_max_trust=TrustLevel.from_label(row["max_trust"]),
                list_valid_until=row["list_valid_until"],
                domain=row["domain"],
                organisation_id=row["organisation_id"],
                organisation_name=row["organisation_name"],
                sector=row["sector"],
                trust_level=TrustLevel.from_label(row["trust_level"]),
                ceiling=row["ceiling"],
                posture=posture_from_json(row["posture"]),
                domain_wide=bool(row["domain_wide"]),
                exclusions=tuple(row["exclusions"] or ()),
                subaddress_separator=row["subaddress_separator"],
            )
        )
    return out
