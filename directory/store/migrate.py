"""Schema migrations (Alembic), run programmatically by `clearance init` and at start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported by the functions that migrate, not at start: most commands and every
# lookup never need it

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


# The newest migration's revision: what `check_schema` expects, without parsing the migration
# scripts at every start (tests/directory/store/test_migrations.py checks it is alembic's head).
HEAD = "0006_peer_name_constraints"


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision (alembic's version table), or None before `clearance init`."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if len(found) == 1 else None


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
