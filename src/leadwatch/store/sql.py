"""The SQL both event backends share: placeholders and the dialect-specific fragments.

Queries are written once with ``:name`` placeholders and the helpers below for the
few constructs DuckDB and PostgreSQL spell differently; each backend renders them.
Both percentile helpers interpolate linearly, so the two backends agree exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# Weeks align to Monday 2000-01-03; every shorter bucket that divides a day aligns too.
BUCKET_ANCHOR = datetime(2000, 1, 3)
BUCKET_ORIGIN = f"TIMESTAMP '{BUCKET_ANCHOR:%Y-%m-%d %H:%M:%S}'"
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str  # format with the parameter's name
    ddl_types: dict[str, str]

    def render(self, sql: str) -> str:
        if "%" in self.placeholder:
            sql = sql.replace("%", "%%")
        return _PLACEHOLDER.sub(lambda m: self.placeholder.format(m.group(1)), sql)

    def bucket(self, column: str, seconds: int) -> str:
        """Start of the ``seconds``-wide bucket that holds ``column``."""
        if self.name == "duckdb":
            return f"time_bucket(INTERVAL '{int(seconds)} seconds', {column}, {BUCKET_ORIGIN})"
        return f"date_bin(INTERVAL '{int(seconds)} seconds', {column}, {BUCKET_ORIGIN})"

    def percentile(self, expr: str, q: float) -> str:
        """Continuous (linearly interpolated) percentile of ``expr``, q in [0, 1]."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be within [0, 1]")
        if self.name == "duckdb":
            return f"quantile_cont({expr}, {q!r})"
        return f"percentile_cont({q!r}) WITHIN GROUP (ORDER BY {expr})"

    def json_field(self, column: str, key: str) -> str:
        """Text value of a top-level key of a JSON column."""
        if not re.fullmatch(r"\w+", key):
            raise ValueError("JSON keys in queries must be plain words")
        return f"({column} ->> '{key}')"


DUCKDB = Dialect(
    "duckdb",
    "${}",
    {"text": "VARCHAR", "timestamp": "TIMESTAMP", "double": "DOUBLE", "json": "JSON"},
)
POSTGRES = Dialect(
    "postgresql",
    "%({})s",
    {"text": "TEXT", "timestamp": "TIMESTAMP", "double": "DOUBLE PRECISION", "json": "JSONB"},
)
