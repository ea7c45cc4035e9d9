"""instance: a random id for each store, so that a copy of it (the lookup mirror) knows its source

Revision ID: 0004_instance
Revises: 0003_leases
Create Date: 2026-11-26 11:05:00
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004_instance"
down_revision = "0003_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("directory_state", sa.Column("instance", sa.String(length=36), nullable=True))
    op.execute(
        sa.text("UPDATE directory_state SET instance = :instance").bindparams(
            instance=str(uuid.uuid4())
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("directory_state") as batch:
        batch.drop_column("instance")
