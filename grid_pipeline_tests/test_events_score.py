"""Scoring detected events against the injected ground truth, on a case computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from grid_pipeline.events.score import score

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def events(*rows: tuple[str, str, str, int, int | None]) -> pl.DataFrame:
    """(kind, asset_type, asset, start minute, end minute or None) from T0."""
    return pl.DataFrame(
        [(k, t, a, T0 + timedelta(minutes=s), None if e is None else T0 + timedelta(minutes=e))
         for k, t, a, s, e in rows],
        schema={"kind": pl.Utf8, "asset_type": pl.Utf8, "asset": pl.Utf8,
                "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")},
        orient="row",
    )  # fmt: skip


def test_a_hand_computed_case() -> None:
    """Outages: 3 faults; found: one exactly, one 10 min late in two pieces, one on the wrong
    meter, and the third fault missed. Precision 3/4 (pieces both match), recall 2/3.
    Spikes: one found, one false alarm on a clean meter: precision 1/2, recall 1."""
    truth = events(
        ("outage", "meter", "1", 0, 60),
        ("outage", "meter", "2", 100, 200),
        ("outage", "transformer", "F01-T001", 300, 400),
        ("spike", "meter", "5", 500, 505),
    )
    found = events(
        ("outage", "meter", "1", 0, 60),
        ("outage", "meter", "2", 110, 150),
        ("outage", "meter", "2", 160, 200),
        ("outage", "meter", "3", 300, 400),  # right time, wrong asset
        ("spike", "meter", "5", 500, 505),
        ("spike", "meter", "9", 700, 705),
    )
    scores = score(truth, found)
    outage, spike = scores["outage"], scores["spike"]
    assert (outage.faults, outage.detections) == (3, 4)
    assert (outage.matched_faults, outage.matched_detections) == (2, 3)
    assert outage.precision == 0.75
    assert outage.recall == pytest.approx(0.6667, abs=1e-4)
    assert outage.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3), abs=1e-4)
    assert outage.delay_s_p95 == 600.0  # the late piece: 10 minutes
    assert outage.delay_s_median == 300.0  # (0 + 600) / 2
    assert (spike.precision, spike.recall, spike.delay_s_p95) == (0.5, 1.0, 0.0)
    assert set(scores) == {"outage", "spike"}
    assert set(spike.as_json()) == {
        "faults", "detections", "matched_faults", "matched_detections", "precision", "recall",
        "f1", "delay_s_p95", "delay_s_median",
    }  # fmt: skip


def test_an_open_event_matches_a_fault_that_started_while_it_runs() -> None:
    """A live event not yet closed (end null) matches the fault it covers."""
    scores = score(
        events(("theft", "meter", "7", 600, 6000)), events(("theft", "meter", "7", 640, None))
    )
    assert (scores["theft"].precision, scores["theft"].recall) == (1.0, 1.0)
    assert scores["theft"].delay_s_p95 == 2400.0


def test_spans_further_apart_than_the_tolerance_do_not_match() -> None:
    scores = score(events(("zero", "meter", "4", 0, 120)), events(("zero", "meter", "4", 140, 300)))
    assert (scores["zero"].matched_faults, scores["zero"].matched_detections) == (0, 0)
    assert (scores["zero"].precision, scores["zero"].recall, scores["zero"].f1) == (0.0, 0.0, 0.0)


def test_no_events_on_either_side_give_no_kinds_to_score() -> None:
    empty = events()
    assert score(empty, empty) == {}
