"""EventStore on PostgreSQL: batches go in with COPY, through the records engine's pool."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy.engine import Engine

from leadwatch.store.events import ConcurrentIndex, EventStore
from leadwatch.store.schema import Table
from leadwatch.store.sql import POSTGRES

LOCK_POLL_SECONDS = 0.5  # while another replica builds an index


class PostgresEventStore(EventStore):
    dialect = POSTGRES

    def __init__(self, engine: Engine):
        self.engine = engine

    def write_batch(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._connection() as conn, conn.cursor() as cur:
            _copy(cur, table, rows)

    def replace_rows(
        self, table: Table, where: str, params: dict[str, Any], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        with self._connection() as conn, conn.cursor() as cur:
            # Replicas replacing the same rows at once would otherwise both insert.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"leadwatch-replace-{table.name}",))
            cur.execute(self.dialect.render(f"DELETE FROM {table.name} WHERE {where}"), params)
            if rows:
                _copy(cur, table, rows)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(self.dialect.render(sql), params or {})
            return cur.fetchall()

    @contextmanager
    def _schema_transaction(self) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
        with self._connection() as conn, conn.cursor() as cur:
            # Replicas may migrate at the same moment: serialise them.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('leadwatch-event-schema'))")

            def execute(sql: str) -> list[tuple[Any, ...]]:
                cur.execute(sql)
                return cur.fetchall() if cur.description else []

            yield execute

    def _build_index_concurrently(self, index: ConcurrentIndex) -> None:
        key = f"leadwatch-index-{index.name}"
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # Replicas take turns, polling: a session blocked in pg_advisory_lock holds
            # a snapshot, which the concurrent build waits for: a deadlock.
            while not conn.exec_driver_sql("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).scalar():
                time.sleep(LOCK_POLL_SECONDS)
            try:
                # An interrupted concurrent build leaves an INVALID index (never used by
                # queries, still updated by writes) that IF NOT EXISTS would keep.
                valid = conn.exec_driver_sql(
                    "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (index.name,)
                ).scalar()
                if valid is False:
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")
                conn.exec_driver_sql(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index.name} "
                    f"ON {index.table} ({', '.join(index.columns)})"
                )
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def ping(self) -> None:
        self.query("SELECT 1 AS ok")

    def _connection(self) -> Any:
        return _PooledTransaction(self.engine)


def _copy(cur: Any, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    columns = ", ".join(table.column_names)
    with cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class _PooledTransaction:
    """A psycopg connection borrowed from SQLAlchemy's pool for one transaction."""

    def __init__(self, engine: Engine):
        self._raw = engine.raw_connection()

    def __enter__(self) -> Any:
        return self._raw.driver_connection

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None:
                self._raw.commit()
            else:
                self._raw.rollback()
        finally:
            self._raw.close()
