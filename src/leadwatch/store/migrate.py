"""Schema migrations of both stores, run by ``leadwatch migrate`` and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from leadwatch.store.events import EventStore

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_records(engine: Engine) -> None:
    """Apply pending Alembic revisions; replicas starting together take turns."""
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('leadwatch-records-schema'))"))
        config.attributes["connection"] = conn
        # "heads": capabilities may branch from the same parent revision.
        command.upgrade(config, "heads")


def records_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def migrate(engine: Engine, events: EventStore) -> None:
    upgrade_records(engine)
    events.migrate()
