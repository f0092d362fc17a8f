"""The `database_schema` asset: migrations applied, TimescaleDB present."""

import time

import dagster as dg

from grid_pipeline.db.connection import connect
from grid_pipeline.db.migrate import migrate
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource


@dg.asset(group_name="storage", kinds={"timescaledb", "sql"}, pool=ENGINE_POOL)
def database_schema(timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The schema from `sql/schema`, applied in order and recorded in `schema_migrations`.

    Everything that writes to the database sits downstream of this asset, so a
    fresh engine gets its tables before the first row arrives. This is the one
    place a Dagster run migrates; resources only connect.
    """
    started = time.monotonic()
    db = timescale.database()
    report = migrate(db)
    with connect(db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        ts_row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    return dg.MaterializeResult(
        metadata={
            "migrations": dg.MetadataValue.json(versions),
            "applied_now": len(report.applied),
            "timescaledb_version": str(ts_row[0]) if ts_row else "absent",
            "embedded_engine": db.embedded,
            "seconds": round(time.monotonic() - started, 3),
        }
    )
