"""Dagster resources: small, typed, configured from the environment.

Tests swap a resource's configuration (another data dir, another URL), not flags.
"""

import os

import dagster as dg

from grid_pipeline.config import Settings, settings_with
from grid_pipeline.db.connection import Database
from grid_pipeline.db.migrate import ready_database


class TimescaleResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The TimescaleDB the pipeline writes to.

    `database_url` unset means the embedded engine under `data_dir` (started on
    first use, shared by every process through its state file).
    """

    database_url: str | None = None
    data_dir: str | None = None

    def settings(self) -> Settings:
        return settings_with(GRID_DATA_DIR=self.data_dir, GRID_DATABASE_URL=self.database_url)

    def database(self) -> Database:
        """The database, running and migrated."""
        return ready_database(self.settings())


def timescale_from_environment() -> TimescaleResource:
    """GRID_DATABASE_URL through Dagster's EnvVar when set (never baked into run config)."""
    if os.environ.get("GRID_DATABASE_URL"):
        return TimescaleResource(database_url=dg.EnvVar("GRID_DATABASE_URL"))
    return TimescaleResource()
