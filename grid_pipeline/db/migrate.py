"""Ordered, idempotent schema migrations from `sql/schema/NNN_name.sql`.

Each file runs in its own transaction together with its row in
`schema_migrations`, so the database is never left with half a migration.
Applied files are skipped on later runs; the DDL itself is also written to be
re-runnable (IF NOT EXISTS), so a database created by hand converges too.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import psycopg

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import schema_files

logger = logging.getLogger(__name__)

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class MigrationReport:
    """Which migration files ran now and which were already applied."""

    applied: list[str]
    skipped: list[str]


def _log_notice(notice: psycopg.errors.Diagnostic) -> None:
    """A migration's progress (RAISE INFO) as a log line; the server's NOTICE chatter
    ("... does not exist, skipping") is left out."""
    if notice.severity_nonlocalized == "INFO" and notice.message_primary:
        logger.info("  %s", notice.message_primary)


def migrate(db: Database) -> MigrationReport:
    """Apply every schema file not yet recorded; return what ran."""
    applied: list[str] = []
    skipped: list[str] = []
    with connect(db) as conn:
        conn.add_notice_handler(_log_notice)
        # One migrator at a time on a native server (the embedded one is one session anyway).
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('grid_pipeline.migrate'))")
        # Only when missing: the least-privileged roles (grid_ingest, grid_reader) run
        # this check at start-up, and PostgreSQL refuses them even a no-op CREATE.
        ledger = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if ledger is None or ledger[0] is None:
            conn.execute(_CREATE_LEDGER)
        done = {
            row[0]: row[1]
            for row in conn.execute("SELECT version, checksum FROM schema_migrations")
        }
        conn.commit()
        for path in schema_files():
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if path.stem in done:
                if done[path.stem] != checksum:
                    logger.warning(
                        "migration %s changed after it was applied; not re-run", path.name
                    )
                skipped.append(path.stem)
                continue
            # A migration that converts data (009) can take minutes on a large data dir:
            # say which one runs, and pass on what it reports (RAISE INFO) as it goes.
            logger.info("applying migration %s", path.name)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('grid_pipeline.migrate'))")
                conn.execute(text.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s) "
                    "ON CONFLICT (version) DO NOTHING",
                    (path.stem, checksum),
                )
            applied.append(path.stem)
            logger.info("applied migration %s", path.name)
    return MigrationReport(applied, skipped)
