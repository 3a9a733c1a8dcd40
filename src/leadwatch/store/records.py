"""The RecordStore: SQLAlchemy over SQLite (standalone) or PostgreSQL (stack mode)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import secrets

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadwatch.settings import Settings, SiteSettings
from leadwatch.store.models import InstanceSecret, Site

SQLITE_FILE = "leadwatch.sqlite3"


def records_url(settings: Settings) -> URL:
    if settings.storage.database_url is not None:
        url = make_url(settings.storage.database_url.get_secret_value())
        return url.set(drivername="postgresql+psycopg")
    return make_url(f"sqlite:///{settings.storage.data_dir / SQLITE_FILE}")


def create_records_engine(settings: Settings) -> Engine:
    url = records_url(settings)
    if url.get_backend_name() == "sqlite":
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work beside the writer; FULL fsyncs every commit so an
    # acknowledged record survives power loss, not just a crash.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class RecordStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: Settings) -> RecordStore:
        return cls(create_records_engine(settings))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def sync_sites(self, sites: list[SiteSettings]) -> None:
        """Create or update the configured sites (sites are never deleted here: their
        rows stay attributable)."""
        with self.session() as session:
            known = {s.id: s for s in session.scalars(select(Site))}
            for cfg in sites:
                site = known.get(cfg.id) or Site(id=cfg.id)
                site.name, site.domain, site.timezone = cfg.name, cfg.domain, cfg.timezone
                session.add(site)

    def instance_secret(self, name: str) -> bytes:
        """The installation's secret ``name``, created on first use. Replicas racing to
        create it all end up with the one that was committed first."""
        with self.session() as session:
            found = session.get(InstanceSecret, name)
            if found is not None:
                return bytes.fromhex(found.value)
        try:
            with self.session() as session:
                session.add(InstanceSecret(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another replica won the race; read its value
        with self.session() as session:
            return bytes.fromhex(session.get_one(InstanceSecret, name).value)

    def close(self) -> None:
        self.engine.dispose()
