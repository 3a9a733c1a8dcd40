"""The RecordStore on SQLite and PostgreSQL: migrations, durability settings, sites."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from leadwatch.settings import Settings, SiteSettings
from leadwatch.store.migrate import head_revisions, records_revisions, upgrade_records
from leadwatch.store.models import Base, Site, User
from leadwatch.store.records import RecordStore


@pytest.fixture
def records(settings: Settings) -> Iterator[RecordStore]:
    store = RecordStore.open(settings)
    upgrade_records(store.engine)
    yield store
    store.close()


def test_migrations_reach_head_and_repeat_harmlessly(records: RecordStore) -> None:
    upgrade_records(records.engine)
    assert records_revisions(records.engine) == head_revisions() != set()
    assert {"sites", "users", "api_tokens"} <= set(inspect(records.engine).get_table_names())


def test_models_and_migrations_agree(records: RecordStore) -> None:
    """A model change without a migration (or the reverse) fails here."""
    with records.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_sqlite_is_durable_and_concurrent(settings_for) -> None:  # type: ignore[no-untyped-def]
    store = RecordStore.open(settings_for("embedded"))
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_sites_are_created_and_updated_from_settings(records: RecordStore) -> None:
    records.sync_sites([SiteSettings(id="reboot", name="Reboot Media", timezone="Europe/London")])
    records.sync_sites([
        SiteSettings(id="reboot", name="Reboot Media Ltd", domain="rebootmedia.example"),
        SiteSettings(id="second", name="Second"),
    ])
    with records.session() as session:
        sites = {s.id: s for s in session.scalars(select(Site))}
    assert sites["reboot"].name == "Reboot Media Ltd"
    assert sites["reboot"].domain == "rebootmedia.example"
    assert sites["reboot"].timezone == "UTC"
    assert set(sites) == {"reboot", "second"}


def test_timestamps_come_back_as_aware_utc(records: RecordStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    with records.session() as session:
        session.add(User(username="ada", password_hash="x", last_login_at=datetime(2026, 5, 1, 12, 0, tzinfo=plus_two)))
    with records.session() as session:
        user = session.scalar(select(User).where(User.username == "ada"))
        assert user is not None
        assert user.last_login_at == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
        assert user.last_login_at.tzinfo is not None and user.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(records: RecordStore) -> None:
    with pytest.raises(Exception, match="naive"):
        with records.session() as session:
            session.add(User(username="bob", password_hash="x", last_login_at=datetime(2026, 5, 1)))


def test_instance_secrets_are_made_once_and_shared(records: RecordStore, settings: Settings) -> None:
    first = records.instance_secret("signing_key")
    other_replica = RecordStore.open(settings)
    assert other_replica.instance_secret("signing_key") == first
    assert len(first) == 32
    assert records.instance_secret("another") != first
    other_replica.close()
