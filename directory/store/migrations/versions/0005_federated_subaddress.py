"""federated_subaddress: the sub-address separator a peer's domain uses, so that a federated
lookup strips `+tag` and compares exclusions on the base local part, as the peer does

Revision ID: 0005_federated_subaddress
Revises: 0004_instance
Create Date: 2026-12-04 16:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_federated_subaddress"
down_revision = "0004_instance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "federated_domains", sa.Column("subaddress_separator", sa.String(length=1), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("federated_domains") as batch:
        batch.drop_column("subaddress_separator")
