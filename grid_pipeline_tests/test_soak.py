"""The shortened soak: faults on a timetable, then the counters must reconcile exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid_pipeline.config import Settings
from grid_pipeline.soak import FAULTS, run_soak

pytestmark = pytest.mark.integration


def test_short_soak_loses_nothing_duplicates_nothing_and_aggregates_match(
    settings: Settings, tmp_path: Path
) -> None:
    report = run_soak(settings, minutes=1.0, meters=10, data_dir=tmp_path / "soak")
    print(report.table())
    assert set(report.recovery_s) == set(FAULTS)  # every fault was injected and recovered from
    assert report.sent > 0 and report.stored > 0
    assert report.rejected == report.simulator["malformed"]
    assert report.lost == 0
    assert report.dup_rows == 0
    assert report.cagg_mismatch == 0
    assert report.simulator["duplicates"] > 0  # duplicates really were delivered and absorbed
