"""leases: who runs a singleton job (LDAP publish/sync) until when

Revision ID: 0003_leases
Revises: 0002_federation
Create Date: 2026-11-26 05:55:00
"""

import sqlalchemy as sa
from alembic import op

import directory.store.tables

revision = "0003_leases"
down_revision = "0002_federation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", directory.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
