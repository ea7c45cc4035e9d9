"""Alembic environment: run with a connection handed in by directory.store.migrate."""

from __future__ import annotations

from alembic import context

from directory.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `clearance init` (directory.store.migrate)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
