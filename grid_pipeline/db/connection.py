"""Connections for one unit of work, aware of which engine is configured.

The embedded engine is a single PostgreSQL session shared by every client in
turn, so a connection is held only for one unit of work (open, do it, close),
never kept idle, and never prepares named statements (the session outlives the
client; the server resets it, but auto-prepared `_pg3_N` names would still be a
trap if it did not). Against a native server the same code runs; a pool is
available there for long-lived services.

Getting a connection starts nothing: `resolve_database` finds the configured
database and fails with one line when the embedded engine is not running.
Starting the engine and migrating happen at explicit entry points
(`grid_pipeline.app.services`: `grid-pipeline up`, `db start`, the CLI commands).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from grid_pipeline.config import Settings, load_settings
from grid_pipeline.embedded import engine
from grid_pipeline.embedded.process import ServiceError, port_accepts


@dataclass(frozen=True)
class Database:
    """Where the data lives: a URL and whether it is the embedded engine."""

    url: str
    embedded: bool

    @property
    def supports_copy(self) -> bool:
        """COPY FROM STDIN closes the connection on the embedded wire server."""
        return not self.embedded

    @property
    def supports_roles(self) -> bool:
        """PGlite is one superuser session: GRANTs are accepted but not enforced."""
        return not self.embedded

    @property
    def supports_background_jobs(self) -> bool:
        """TimescaleDB policies need background workers, which PGlite does not run."""
        return not self.embedded


class DatabaseNotRunning(ServiceError):
    """The embedded engine is configured but not running (nothing here starts it)."""


def resolve_database(settings: Settings | None = None) -> Database:
    """The configured database, as it is: a URL, or the running embedded engine's URL."""
    settings = settings or load_settings()
    if settings.database_url:
        return Database(settings.database_url, embedded=False)
    current = engine.status(settings)
    if current is None or not port_accepts(engine.HOST, current.port):
        raise DatabaseNotRunning(
            f"the embedded TimescaleDB for {settings.data_dir} is not running: "
            "start it with `grid-pipeline db start` (or `make run`)"
        )
    return Database(current.url, embedded=True)


@contextmanager
def connect(db: Database, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """A connection for one unit of work; commits on success, rolls back on error, closes."""
    conn = psycopg.connect(
        db.url,
        autocommit=autocommit,
        prepare_threshold=None if db.embedded else 5,
        application_name="grid-pipeline",
    )
    with conn:
        yield conn
