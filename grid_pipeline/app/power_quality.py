"""Power quality as the product runs it: the EN 50160 verdict and ANSI C84.1 band shares of
every meter, week by week (Monday 00:00 UTC), stored for the dashboard.

The CLI (`grid-pipeline power-quality`) and the Dagster asset `power_quality_weekly` call
`compute_power_quality`. Without a window it recomputes every week the readings touch, so
a partial first or last week is stored as 'incomplete' and judged once it is whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.storage.power_quality import (
    readings_extent,
    replace_week,
    verdict_counts,
    weeks_touching,
)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeekReport:
    """One computed week: its start, the meters stored and their verdicts."""

    week: datetime
    meters: int
    verdicts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class PowerQualityReport:
    """Every week computed by one call, oldest first."""

    weeks: list[WeekReport] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(w.seconds for w in self.weeks)

    @property
    def meter_weeks(self) -> int:
        return sum(w.meters for w in self.weeks)


def compute_power_quality(
    db: Database, settings: Settings, window: Window | None = None
) -> PowerQualityReport:
    """Compute and store the weeks that `window` touches (default: every week with
    readings), each in its own transaction; the weeks' verdict counts.

    `settings` is taken for symmetry with the other application functions (the week and
    the 10-minute windows are fixed by EN 50160, not configured).
    """
    with connect(db) as conn:
        span = window or readings_extent(conn)
    if span is None:
        return PowerQualityReport()
    reports = []
    for week in weeks_touching(*span):
        started = time.perf_counter()
        with connect(db) as conn:
            meters = replace_week(conn, week)
            counts = verdict_counts(conn, week)
        reports.append(WeekReport(week, meters, counts, time.perf_counter() - started))
    return PowerQualityReport(reports)
