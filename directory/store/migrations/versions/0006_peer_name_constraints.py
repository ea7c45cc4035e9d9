"""peer_name_constraints: the domain suffixes each federation peer may speak for

A peer added before name constraints keeps exactly the domains its last imported list held
(each one a constraint that covers it and the names under it); a peer that had imported
nothing is permitted nothing until `clearance federation peer constrain` says otherwise.

Revision ID: 0006_peer_name_constraints
Revises: 0005_federated_subaddress
Create Date: 2026-12-04 18:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_peer_name_constraints"
down_revision = "0005_federated_subaddress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # added in place (a batch copy of the table would trip the foreign keys that point at it)
    op.add_column(
        "federation_peers",
        sa.Column("permitted_domains", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    peers = sa.table("federation_peers", sa.column("id"), sa.column("permitted_domains", sa.JSON))
    domains = sa.table("federated_domains", sa.column("peer_id"), sa.column("domain"))
    conn = op.get_bind()
    held: dict[str, list[str]] = {}
    for peer_id, domain in conn.execute(sa.select(domains.c.peer_id, domains.c.domain)):
        held.setdefault(peer_id, []).append(domain)
    for (peer_id,) in conn.execute(sa.select(peers.c.id)).all():
        conn.execute(
            peers.update()
            .where(peers.c.id == peer_id)
            .values(permitted_domains=sorted(held.get(peer_id, [])))
        )


def downgrade() -> None:
    with op.batch_alter_table("federation_peers") as batch:
        batch.drop_column("permitted_domains")
