"""Explicit entry points that start what the project runs itself.

Getting a connection (`grid_pipeline.db.connection.resolve_database`) starts
nothing; these functions are where the embedded TimescaleDB and broker are
started and the schema migrated, and only entry points call them: `grid-pipeline
up`, `db start`, and the CLI commands a user runs on their own (`generate`,
`ingest`, `simulate`, `bench`). Dagster runs and the dashboard only connect, so
a `dagster dev` started by hand never leaves an engine behind.
"""

from __future__ import annotations

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, resolve_database
from grid_pipeline.db.migrate import migrate
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import ServiceError, port_accepts

_MIGRATED: set[str] = set()


def start_database(settings: Settings) -> Database:
    """The configured database, the embedded engine started if needed, schema migrated.

    Migration runs once per process and database (it is idempotent, but it costs
    a round trip per file).
    """
    if settings.embedded_db:
        engine.ensure_running(settings)
    db = resolve_database(settings)
    if db.url not in _MIGRATED:
        migrate(db)
        _MIGRATED.add(db.url)
    return db


def start_broker(settings: Settings) -> str:
    """The MQTT URL to use; the embedded broker is started if it is configured and down."""
    return broker.ensure_running(settings)


def running_broker_url(settings: Settings) -> str:
    """The MQTT URL to use, starting nothing: one line when the embedded broker is down."""
    if settings.embedded_broker:
        state = broker.status(settings)
        if state is None or not port_accepts(broker.HOST, state.port):
            raise ServiceError(
                f"the embedded MQTT broker for {settings.data_dir} is not running: "
                "start it with `grid-pipeline broker start` (or `make run`)"
            )
    return settings.broker_url
