"""The chunk-interval advisor's arithmetic on fixed inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grid_pipeline.bench.advisor import AdvisorInputs, advise, verdict

GIB = 1024**3


def seed_fleet(memory: int = 24 * GIB, rate: float = 500 / 300) -> AdvisorInputs:
    """The seed's fleet: 500 meters every 5 minutes, 150 bytes per row with indexes."""
    return AdvisorInputs(
        ingest_rows_per_s=rate, bytes_per_row=150.0, memory_bytes=memory, meters=500,
        reading_interval=timedelta(minutes=5),
    )  # fmt: skip


def test_bounds_follow_the_formulas() -> None:
    advice = advise(seed_fleet())
    # 0.25 x 24 GiB / (1.6667 rows/s x 150 B) = 25,769,803 s (about 298 days), whole minutes
    exact = 0.25 * 24 * GIB / (500 / 300 * 150)
    assert advice.max_interval.total_seconds() == pytest.approx(exact, abs=60)
    # 100 rows per segment at one reading per 5 minutes = 500 minutes
    assert advice.min_interval == timedelta(minutes=500)
    assert advice.recommended == timedelta(hours=12)


def test_seed_intervals_against_the_bounds() -> None:
    inputs = seed_fleet()
    three_hours, day, week = (verdict(timedelta(hours=h), inputs) for h in (3, 24, 168))
    assert three_hours.rows_per_chunk == 18_000 and three_hours.rows_per_segment == 36
    assert not three_hours.compresses_well
    assert day.rows_per_chunk == 144_000 and day.rows_per_segment == 288 and day.compresses_well
    assert day.chunk_bytes == 144_000 * 150
    assert week.fits_memory and week.memory_budget_share == pytest.approx(
        1_008_000 * 150 / (0.25 * 24 * GIB)
    )


def test_a_huge_fleet_on_a_small_machine_gets_a_small_interval_or_none() -> None:
    big = seed_fleet(memory=1 * GIB, rate=1_000_000 / 300)  # a million meters, 1 GiB
    advice = advise(big)
    # 0.25 GiB / (3333 rows/s x 150 B) = 537 s: below the compression bound, no interval fits
    assert advice.max_interval < advice.min_interval
    assert advice.recommended is None
    assert not verdict(timedelta(hours=1), big).fits_memory


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        advise(seed_fleet(rate=0))
