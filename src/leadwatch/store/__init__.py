"""Storage: the RecordStore (SQLAlchemy) and the EventStore (DuckDB or PostgreSQL)."""
