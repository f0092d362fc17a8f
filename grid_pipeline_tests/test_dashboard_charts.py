"""The dashboard's chart functions: pure DataFrame -> Plotly figure, no database needed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest

from dashboard import charts

T0 = datetime(2026, 1, 5, 0, 0)


def hourly(meters: int = 2, hours: int = 6) -> pl.DataFrame:
    rows = [
        {
            "meter_id": m,
            "time": T0 + timedelta(hours=h),
            "power_kw": 1.0 + m + h / 10,
            "min_power_kw": 0.5 + m,
            "max_power_kw": 2.0 + m,
            "energy_kwh": 1.0,
            "voltage_v": 230.0,
            "min_voltage_v": 225.0,
            "max_voltage_v": 235.0,
        }
        for m in range(1, meters + 1)
        for h in range(hours)
    ]
    return pl.DataFrame(rows)


def test_every_chart_gives_an_empty_figure_for_an_empty_frame() -> None:
    empty = pl.DataFrame()
    builders = [
        charts.fleet_load_curve, charts.load_heatmap, charts.top_consumers,
        charts.solar_export, charts.voltage_quality, charts.peak_demand,
        charts.completeness_heatmap, charts.rejects_by_reason, charts.compression_sizes,
        charts.benchmark_medians, charts.peak_intervals, charts.monthly_by_meter,
    ]  # fmt: skip
    for build in builders:
        fig = build(empty)
        assert isinstance(fig, go.Figure) and not fig.data, build.__name__
        assert fig.layout.annotations[0].text.startswith("No ")


def test_trend_with_band_draws_a_band_and_a_line_per_meter() -> None:
    fig = charts.trend_with_band(hourly(), "power_kw", "P", "kW", ("min_power_kw", "max_power_kw"))
    fills = [t for t in fig.data if t.fill == "toself"]
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(fills) == 2 and len(lines) == 2
    assert [t.name for t in lines] == ["meter 1", "meter 2"]
    # the band goes out along max and back along min
    assert list(fills[0].y[:6]) == [3.0] * 6 and list(fills[0].y[6:]) == [1.5] * 6


def test_trend_without_band_columns_draws_lines_only() -> None:
    fig = charts.trend_with_band(hourly(), "power_kw", "P", "kW")
    assert all(t.fill != "toself" for t in fig.data) and len(fig.data) == 2


def test_load_heatmap_places_values_by_weekday_and_hour() -> None:
    heat = pl.DataFrame({"weekday": [1, 7], "hour": [0, 23], "power_kw": [5.0, 9.0]})
    z = charts.load_heatmap(heat).data[0].z
    assert z[0][0] == 5.0 and z[6][23] == 9.0 and z[3][12] is None


def test_completeness_heatmap_is_in_percent() -> None:
    frame = pl.DataFrame(
        {"meter_id": [1, 1, 2], "day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 1)],
         "readings": [288, 144, 0], "completeness": [1.0, 0.5, 0.0]}
    )  # fmt: skip
    z = charts.completeness_heatmap(frame).data[0].z
    assert [list(row) for row in z] == [[100.0, 50.0], [0.0, None]]


def test_status_counts_lists_every_status() -> None:
    latest = pl.DataFrame({"status": ["ok", "ok", "stale"]})
    counts = charts.status_counts(latest)
    assert counts == {"ok": 2, "exporting": 0, "voltage out of band": 0, "stale": 1, "no data": 0}


def test_period_comparison_aligns_days() -> None:
    current = pl.DataFrame({"day": [date(2026, 1, 8), date(2026, 1, 9)], "energy_kwh": [3.0, 4.0]})
    previous = pl.DataFrame({"day": [date(2026, 1, 1), date(2026, 1, 2)], "energy_kwh": [1.0, 2.0]})
    fig = charts.period_comparison(current, previous)
    assert [t.name for t in fig.data] == ["previous period", "this period"]
    assert list(fig.data[0].x) == list(fig.data[1].x) == ["day 1", "day 2"]
    assert charts.total_kwh(current) == pytest.approx(7.0)


def test_feeder_breakdown_sums_the_reporting_meters() -> None:
    latest = pl.DataFrame(
        {"feeder": ["F01", "F01", "F02"], "customer_class": ["residential"] * 3,
         "power_kw": [1.0, 2.0, None]}
    )  # fmt: skip
    fig = charts.feeder_breakdown(latest)
    assert list(fig.data[0].x) == ["F01"] and list(fig.data[0].y) == [3.0]


def test_monthly_by_meter_keeps_the_top_meters_of_the_newest_month() -> None:
    monthly = pl.DataFrame(
        {"meter_id": [1, 2, 3, 1], "month": [datetime(2026, 2, 1)] * 3 + [datetime(2026, 1, 1)],
         "total_energy": [5.0, 9.0, 1.0, 4.0]}
    )  # fmt: skip
    fig = charts.monthly_by_meter(monthly, top=2)
    shown = {x for trace in fig.data for x in trace.x}
    assert shown == {"1", "2"}
