"""Store the configured meter fleet if the `meters` table is still empty.

Run by the compose `migrate` service, as the owner role, right after
`grid-pipeline db migrate`. Why: the simulator and the ingestion consumer (which
rejects readings of unknown meters) need the fleet, and they connect with roles
that may not write `meters`. The fleet is the same deterministic
`build_fleet(GRID_METERS, GRID_SEED)` the Dagster `meters` asset stores, so a
later materialisation changes nothing. A non-empty table is left alone.
"""

from __future__ import annotations

import sys

from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import connect, resolve_database
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import replace_fleet


def main() -> int:
    """Seed the fleet when the table is empty; print what happened."""
    settings = load_settings()
    db = resolve_database(settings)
    with connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM meters").fetchone()
    stored = int(row[0]) if row else 0
    if stored:
        print(f"meters: {stored} already stored, left as they are")
        return 0
    count = replace_fleet(db, build_fleet(settings.meters, settings.seed))
    print(f"meters: stored {count} (seed {settings.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
