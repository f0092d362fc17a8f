"""Dagster resources: small, typed, configured from the environment.

Resources only connect: they never start the embedded engine or broker (that
happens at the explicit entry points, `grid-pipeline up` and `db start`), so a
`dagster dev` or `dagster asset materialize` started by hand leaves nothing
running behind it; with the engine down, a run fails with one line saying how
to start it. Tests swap a resource's configuration (another data dir, another
URL), not flags.
"""

import os

import dagster as dg

from grid_pipeline.config import Settings, settings_with
from grid_pipeline.db.connection import Database, resolve_database

# The embedded engine serves one session at a time: every op that works the
# database declares this pool, and the instance limits the pool to one run's op
# at a time, so runs queue visibly in the UI instead of inside the wire server.
ENGINE_POOL = "timescaledb"


class TimescaleResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The TimescaleDB the pipeline writes to.

    `database_url` unset means the embedded engine under `data_dir`, which must
    already be running (`grid-pipeline up` or `grid-pipeline db start`).
    """

    database_url: str | None = None
    data_dir: str | None = None

    def settings(self) -> Settings:
        return settings_with(GRID_DATA_DIR=self.data_dir, GRID_DATABASE_URL=self.database_url)

    def database(self) -> Database:
        """The database as it is (connecting starts nothing; `database_schema` migrates)."""
        return resolve_database(self.settings())


def timescale_from_environment() -> TimescaleResource:
    """GRID_DATABASE_URL through Dagster's EnvVar when set (never baked into run config)."""
    if os.environ.get("GRID_DATABASE_URL"):
        return TimescaleResource(database_url=dg.EnvVar("GRID_DATABASE_URL"))
    return TimescaleResource()
