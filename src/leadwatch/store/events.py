"""The EventStore: one interface over DuckDB (standalone) and PostgreSQL (stack mode).

Writes arrive in batches from the write buffer (``write_batch``); reads go through
``query`` with SQL written once for both dialects (see ``sql.py``). Each backend
keeps its own schema version so ``migrate`` is idempotent and can grow tables later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leadwatch.store.schema import ANALYTICS_DAYS, EVENTS, LOGS, PROBE_RESULTS, Table
from leadwatch.store.sql import Dialect

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from leadwatch.settings import Settings

SCHEMA_VERSION_TABLE = "leadwatch_event_schema"


def create_table_ddl(table: Table, dialect: Dialect) -> list[str]:
    cols = ", ".join(
        f"{c.name} {dialect.ddl_types[c.kind]}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    )
    ddl = [f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})"]
    return ddl + create_index_ddl(table, table.index, dialect)


def create_index_ddl(table: Table, columns: tuple[str, ...], dialect: Dialect) -> list[str]:
    """An index on PostgreSQL; DuckDB relies on its zone maps (ts is appended in order)."""
    if not columns or dialect.name != "postgresql":
        return []
    return [f"CREATE INDEX IF NOT EXISTS {_index_name(table, columns)} ON {table.name} ({', '.join(columns)})"]


@dataclass(frozen=True, slots=True)
class ConcurrentIndex:
    """A new index on a table that may already be large: PostgreSQL builds it with
    CREATE INDEX CONCURRENTLY, outside any transaction, so that writes go on while it
    builds (inside the schema transaction they would wait for the whole build)."""

    name: str
    table: str
    columns: tuple[str, ...]


def add_index(table: Table, columns: tuple[str, ...], dialect: Dialect) -> list[str] | ConcurrentIndex:
    """A schema version adding an index to an existing table (none on DuckDB)."""
    if dialect.name != "postgresql":
        return []
    return ConcurrentIndex(_index_name(table, columns), table.name, columns)


def _index_name(table: Table, columns: tuple[str, ...]) -> str:
    return f"{table.name}_{'_'.join(columns)}_idx"


# The event schema's versions, in order: append a version for every change (a new
# table from store/schema.py, a new column); never edit one that has been released.
# A version is statements run in the schema transaction, or one ConcurrentIndex.
SCHEMA_VERSIONS: list[Callable[[Dialect], list[str] | ConcurrentIndex]] = [
    lambda d: create_table_ddl(EVENTS, d),
    lambda d: create_table_ddl(LOGS, d),  # the log pipeline (leadwatch/logs)
    lambda d: create_table_ddl(PROBE_RESULTS, d),  # synthetic monitoring (leadwatch/synthetic)
    # lead intake reads a visitor's sessions by id (leadwatch/leads/engagement.py)
    lambda d: add_index(EVENTS, ("session_id",), d),
    # the analytics' daily rollup, filled as days are read (leadwatch/marketing/rollup.py)
    lambda d: create_table_ddl(ANALYTICS_DAYS, d),
]


class EventStore(ABC):
    dialect: Dialect

    @abstractmethod
    def write_batch(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append ``rows`` (tuples in ``table.columns`` order) in one transaction."""

    @abstractmethod
    def replace_rows(
        self, table: Table, where: str, params: dict[str, Any], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Delete the rows of ``table`` matching ``where`` and append ``rows``, in one
        transaction that concurrent replacements of the same table wait for."""

    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query written with ``:name`` placeholders; rows as dicts."""

    @abstractmethod
    def _schema_transaction(self) -> AbstractContextManager[Callable[[str], list[tuple[Any, ...]]]]:
        """A transaction for schema changes, yielding ``execute(sql) -> rows``; exclusive
        across every process sharing the store."""

    @abstractmethod
    def ping(self) -> None:
        """Raise when the store cannot answer."""

    def _build_index_concurrently(self, index: ConcurrentIndex) -> None:
        """Build ``index`` outside any transaction (only PostgreSQL has such versions)."""
        raise NotImplementedError(f"{self.dialect.name} builds no concurrent index")

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing
        """Release connections."""

    def migrate(self) -> None:
        """Bring the event tables to the current schema; safe to repeat. The versions
        run in schema transactions; a ConcurrentIndex is built between two of them,
        and its version recorded once it is built."""
        while (pending := self._migrate_up_to_concurrent_index()) is not None:
            version, index = pending
            self._build_index_concurrently(index)
            with self._schema_transaction() as execute:
                if _version(execute) < version:  # another replica may have recorded it
                    execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES ({version})")

    def _migrate_up_to_concurrent_index(self) -> tuple[int, ConcurrentIndex] | None:
        """Apply the pending versions in one schema transaction, stopping before the
        first ConcurrentIndex: that version and its index, or None when all are done."""
        with self._schema_transaction() as execute:
            execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_VERSION_TABLE} (version INTEGER NOT NULL)")
            current = _version(execute)
            for version, step in enumerate(SCHEMA_VERSIONS[current:], start=current + 1):
                statements = step(self.dialect)
                if isinstance(statements, ConcurrentIndex):
                    return version, statements
                for statement in statements:
                    execute(statement)
                execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES ({version})")
        return None

    def count(self, table: Table = EVENTS, **equals: Any) -> int:
        where = " AND ".join(f"{k} = :{k}" for k in equals) or "TRUE"
        return self.query(f"SELECT count(*) AS n FROM {table.name} WHERE {where}", equals)[0]["n"]

    def delete(self, table: Table, where: str, params: dict[str, Any]) -> int:
        """Delete the rows of ``table`` matching ``where``; how many were deleted."""
        if self.dialect.name == "postgresql":
            sql = f"WITH gone AS (DELETE FROM {table.name} WHERE {where} RETURNING 1) SELECT count(*) AS n FROM gone"
        else:  # DuckDB answers a DELETE with the number of rows it deleted
            sql = f"DELETE FROM {table.name} WHERE {where}"
        rows = self.query(sql, params)
        return int(next(iter(rows[0].values()))) if rows else 0


def _version(execute: Callable[[str], list[tuple[Any, ...]]]) -> int:
    return int(execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}")[0][0] or 0)


def open_event_store(settings: Settings, engine: Engine | None = None) -> EventStore:
    """DuckDB under the data dir, or PostgreSQL through the records engine's pool."""
    if settings.storage.uses_postgres:
        from leadwatch.store.postgres_events import PostgresEventStore

        if engine is None:
            from leadwatch.store.records import create_records_engine

            engine = create_records_engine(settings)
        return PostgresEventStore(engine)
    from leadwatch.store.duckdb_events import DuckDBEventStore

    return DuckDBEventStore(settings.storage.data_dir / "events.duckdb")
