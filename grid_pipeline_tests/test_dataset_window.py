"""The historic window is fixed once, so the data set's size never depends on timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from grid_pipeline.app.dataset import (
    first_and_last_day,
    history_end,
    history_window,
    partition_window,
)
from grid_pipeline.config import ConfigError, Settings, load_settings
from grid_pipeline.defs.historic import history_partitions


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"GRID_DATA_DIR": str(tmp_path), **env})


def test_the_first_caller_fixes_the_end_and_everyone_after_reads_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = history_end(settings, now=datetime(2026, 11, 30, 12, 7, 31, tzinfo=UTC))
    assert first == datetime(2026, 11, 30, 12, 5, tzinfo=UTC)  # floored to the 5-minute grid
    later = history_end(settings, now=datetime(2026, 12, 24, 0, 0, tzinfo=UTC))
    assert later == first
    assert (tmp_path / "history_end").read_text().strip() == first.isoformat()


def test_the_default_window_holds_exactly_the_seed_count(tmp_path: Path) -> None:
    settings = _settings(tmp_path, GRID_HISTORY_END="2026-11-30T12:05:00Z")
    start, end = history_window(settings)
    assert end - start == timedelta(days=14)
    assert int((end - start) / settings.interval) * settings.meters == 2_016_000
    # 15 daily partitions: the first and last partial, together exactly 14 days.
    parts = history_partitions(settings).get_partition_keys()
    assert len(parts) == 15 and parts[0] == "2026-11-16" and parts[-1] == "2026-11-30"
    windows = [partition_window(date.fromisoformat(p), settings) for p in parts]
    total = sum((end - start for start, end in windows), timedelta())
    assert total == timedelta(days=14)
    assert first_and_last_day(settings) == (date(2026, 11, 16), date(2026, 11, 30))


def test_partitions_do_not_drift_with_the_clock(tmp_path: Path) -> None:
    """A long-running code server keeps the same partitions days later."""
    settings = _settings(tmp_path, GRID_HISTORY_END="2026-01-10T00:00:00Z", GRID_DAYS="3")
    keys = history_partitions(settings).get_partition_keys(
        current_time=datetime(2026, 12, 2, tzinfo=UTC)
    )
    assert keys == ["2026-01-07", "2026-01-08", "2026-01-09"]  # an end at midnight adds no day


def test_a_day_outside_the_window_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, GRID_HISTORY_END="2026-01-10T00:00:00Z", GRID_DAYS="3")
    with pytest.raises(ValueError, match="outside the historic window"):
        partition_window(date(2026, 1, 10), settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [("yesterday", "ISO 8601"), ("2026-11-30T12:03:00Z", "reading grid"), ("0001-01-01", "1970")],
)
def test_bad_history_end_is_one_line(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, GRID_HISTORY_END=value)
