"""Grid events as the product runs them: detect over the data set, score against the truth.

The CLI (`grid-pipeline events detect|score`) and the Dagster detection assets call
these, so a day detected from either place is detected the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from grid_pipeline.app.dataset import history_window
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detect import DetectionReport, run_detection
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.events.score import EVENT_COLUMNS, KindScore, score

Window = tuple[datetime, datetime]
Progress = Callable[[str], None]

_EVENT_SCHEMA = pl.Schema(
    {"kind": pl.Utf8(), "asset_type": pl.Utf8(), "asset": pl.Utf8(),
     "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")}
)  # fmt: skip


def detect_day(db: Database, window: Window) -> DetectionReport:
    """Detect every kind of event starting in `window` (one UTC day) and store them,
    replacing what an earlier detection of the same window stored."""
    return run_detection(db, window, Thresholds())


def detect_history(
    db: Database, settings: Settings, window: Window | None = None, progress: Progress = print
) -> DetectionReport:
    """Detect over `window` (default: the data set) in one pass: each detector reads the
    window once (theft's baselines too), where day by day it would read them per day."""
    span = window or history_window(settings)

    def step(name: str, found: int, seconds: float) -> None:
        progress(f"  {name:<10} {found:>5} events  {seconds:6.1f} s")

    return run_detection(db, span, Thresholds(), step)


def _events(db: Database, name: str, window: Window) -> pl.DataFrame:
    with connect(db) as conn:
        rows = conn.execute(query(name), {"start": window[0], "end": window[1]}).fetchall()
    return pl.DataFrame(rows, schema=_EVENT_SCHEMA, orient="row").select(EVENT_COLUMNS)


def score_history(
    db: Database, settings: Settings, window: Window | None = None
) -> dict[str, KindScore]:
    """Detected events against the injected ground truth over `window` (default: the data set)."""
    span = window or history_window(settings)
    return score(_events(db, "events_ground_truth", span), _events(db, "events_detected", span))
