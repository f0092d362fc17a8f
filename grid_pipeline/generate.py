"""`grid-pipeline generate`: the historic data set in one command, with progress.

The same functions as the Dagster assets (fleet -> meters, one transaction per
UTC day of readings, variants filled server-side per day), run in sequence.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import connect
from grid_pipeline.db.migrate import ready_database
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import (
    LoadResult,
    days_in,
    default_window,
    load_history,
    replace_fleet,
)
from grid_pipeline.storage.hypertables import ensure_variant, fill_variant_window, hypertable_stats


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def generate_dataset(
    settings: Settings, *, start: datetime | None = None, variants: bool = True
) -> LoadResult:
    """Fleet, readings for the window, and every configured variant; returns the load result."""
    db = ready_database(settings)
    if start is None:
        window = default_window(settings.days, settings.interval)
    else:
        window = (start, start + timedelta(days=settings.days))
    fleet = build_fleet(settings.meters, settings.seed)
    replace_fleet(db, fleet)
    _say(f"fleet: {fleet.height} meters (seed {settings.seed})")
    _say(f"readings: {window[0]:%Y-%m-%d %H:%M} .. {window[1]:%Y-%m-%d %H:%M} UTC, "
         f"every {settings.interval}")  # fmt: skip
    with connect(db) as conn:
        for variant in settings.chunk_variants:
            ensure_variant(conn, variant)

    def progress(i: int, n: int, part: tuple[datetime, datetime], result: LoadResult) -> None:
        _say(f"  [{i:>2}/{n}] {part[0]:%Y-%m-%d}  {result.rows:>9,} rows  "
             f"{result.rows_per_s:>8,.0f} rows/s")  # fmt: skip

    loaded = load_history(
        db, fleet, window, interval=settings.interval, seed=settings.seed,
        timezone=settings.timezone, progress=progress,
    )  # fmt: skip
    _say(f"energy_readings: {loaded.rows:,} rows in {loaded.seconds:.1f} s "
         f"(generate {loaded.generate_s:.1f} s, write {loaded.write_s:.1f} s, "
         f"{loaded.rows_per_s:,.0f} rows/s)")  # fmt: skip
    if variants:
        parts = list(days_in(window))
        for variant in settings.chunk_variants[1:]:
            started = time.perf_counter()
            with connect(db) as conn:
                for part in parts:
                    fill_variant_window(conn, variant, *part)
                stats = hypertable_stats(conn, variant.table)
            _say(f"{variant.table}: {stats.rows:,} rows, {stats.chunks} chunks of "
                 f"{variant.interval}, {time.perf_counter() - started:.1f} s")  # fmt: skip
    return loaded
