"""The historic data set's window, fixed once.

The seed's data set is "14 days ending now". If every partition computed "now"
for itself, a bootstrap crossing a 5-minute boundary would hold one interval
more than the seed's 2,016,000 rows, and a long-running Dagster code server
would see its partitions drift day by day. So the end of the window is fixed
once and then read back:

1. `GRID_HISTORY_END` when set (production pins it; tests pin it), else
2. the instant recorded in `<GRID_DATA_DIR>/history_end` by the first caller
   (the first `grid-pipeline up`, `generate` or code-server load), which is the
   current time floored to the reading interval.

The window is then `[end - GRID_DAYS, end)`: exactly `days * 288 * meters`
readings at 5-minute intervals. Readings after `end` are the live path's.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from grid_pipeline.config import ConfigError, Settings
from grid_pipeline.storage.historic import day_window, floor_time

Window = tuple[datetime, datetime]


def _record_path(settings: Settings) -> Path:
    return settings.data_dir / "history_end"


def history_end(settings: Settings, now: datetime | None = None) -> datetime:
    """The fixed end of the historic window (recorded at the first call if not configured)."""
    if settings.history_end is not None:
        return settings.history_end
    path = _record_path(settings)
    if path.exists():
        text = path.read_text().strip()
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            raise ConfigError(
                f"{path}: {text!r} is not an ISO 8601 time; delete the file"
            ) from None
    end = floor_time(now or datetime.now(UTC), settings.interval)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written atomically, first writer wins: concurrent first loads agree on one end.
    tmp = path.with_name(f".history_end.{os.getpid()}")
    tmp.write_text(end.isoformat() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return history_end(settings)
    finally:
        tmp.unlink(missing_ok=True)
    return end


def history_window(settings: Settings) -> Window:
    """`[end - GRID_DAYS, end)`: the historic data set's fixed window."""
    end = history_end(settings)
    return end - timedelta(days=settings.days), end


def first_and_last_day(settings: Settings) -> tuple[date, date]:
    """The first and last UTC day that the window touches (the partitions' range)."""
    start, end = history_window(settings)
    return start.date(), (end - timedelta(microseconds=1)).date()


def partition_window(day: date, settings: Settings) -> Window:
    """The part of UTC `day` inside the fixed window; ValueError when they do not meet."""
    part = day_window(day, history_window(settings))
    if part is None:
        start, end = history_window(settings)
        raise ValueError(
            f"{day} lies outside the historic window {start:%Y-%m-%d %H:%M} .. "
            f"{end:%Y-%m-%d %H:%M} UTC"
        )
    return part
