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


# --- one colour per meter, per-meter scaling ----------------------------------------------------


def mixed_fleet() -> pl.DataFrame:
    """A 3 kW household (meter 1) beside an 800 kW plant (meter 2), hourly with bands."""
    frame = hourly(meters=2)
    return frame.with_columns(
        *(
            pl.when(pl.col("meter_id") == 2).then(pl.col(c) * 250).otherwise(pl.col(c)).alias(c)
            for c in ("power_kw", "min_power_kw", "max_power_kw", "energy_kwh")
        )
    )


def colours(fig: go.Figure) -> dict[str, str]:
    """Trace name -> colour of the lines and bars of a meter chart."""
    found: dict[str, str] = {}
    for trace in fig.data:
        if trace.type == "bar":
            found[trace.name] = trace.marker.color
        elif trace.mode == "lines":
            found[trace.name] = trace.line.color
    return found


@pytest.mark.parametrize("scale", list(charts.SCALES))
def test_a_meter_has_one_colour_in_every_chart(scale: str) -> None:
    both, only_two = mixed_fleet(), mixed_fleet().filter(pl.col("meter_id") == 2)
    figures = [
        charts.trend_with_band(both, "power_kw", "P", "kW", ("min_power_kw", "max_power_kw"),
                               scale),
        charts.energy_bars(both, "E", scale),
        charts.trend_with_band(both, "voltage_v", "V", "V", None, scale),
        charts.trend_with_band(only_two, "power_kw", "P", "kW", None, scale),  # other selection
        charts.energy_bars(only_two, "E", scale),
    ]  # fmt: skip
    for fig in figures:
        for name, colour in colours(fig).items():
            assert colour == charts.meter_color(int(name.removeprefix("meter "))), name
    assert colours(figures[0]) == colours(figures[1]) == colours(figures[2])
    assert charts.meter_color(1) != charts.meter_color(2)
    # the band is the meter's colour too
    band = next(t for t in figures[0].data if t.fill == "toself" and t.name.startswith("meter 2"))
    assert band.fillcolor == charts.meter_color(2)


def test_meter_colours_are_fixed_by_the_id() -> None:
    assert charts.meter_colors([3, 1]) == {3: charts.meter_color(3), 1: charts.meter_color(1)}
    assert len({charts.meter_color(m) for m in range(1, 25)}) == 24


def test_per_meter_scale_gives_each_meter_its_own_y_axis() -> None:
    fig = charts.trend_with_band(mixed_fleet(), "power_kw", "P", "kW",
                                 ("min_power_kw", "max_power_kw"), "per_meter")  # fmt: skip
    axes = {t.name: t.yaxis for t in fig.data if t.mode == "lines"}
    assert axes == {"meter 1": "y", "meter 2": "y2"}
    assert fig.layout.yaxis.matches is None and fig.layout.yaxis2.matches is None
    assert fig.layout.yaxis.title.text == "meter 1" and fig.layout.yaxis2.title.text == "meter 2"
    bars = charts.energy_bars(mixed_fleet(), "E", "per_meter")
    assert {t.name: t.yaxis for t in bars.data} == {"meter 1": "y", "meter 2": "y2"}


def test_normalised_scale_is_percent_of_each_meters_peak() -> None:
    fig = charts.trend_with_band(mixed_fleet(), "power_kw", "P", "kW",
                                 ("min_power_kw", "max_power_kw"), "normalised")  # fmt: skip
    for trace in fig.data:  # the band's max is each meter's peak; the mean stays below it
        peak = max(abs(v) for v in trace.y)
        assert peak == pytest.approx(100.0) if trace.fill == "toself" else 50 < peak <= 100
    line = next(t for t in fig.data if t.name == "meter 2")
    assert (
        list(line.customdata) == mixed_fleet().filter(pl.col("meter_id") == 2)["power_kw"].to_list()
    )  # hover shows the real kW
    assert "% of" in fig.layout.yaxis.title.text
    bars = charts.energy_bars(mixed_fleet(), "E", "normalised")
    assert all(max(t.y) == pytest.approx(100.0) for t in bars.data)


def test_shared_scale_keeps_the_values() -> None:
    fig = charts.trend_with_band(mixed_fleet(), "power_kw", "P", "kW")
    assert max(next(t for t in fig.data if t.name == "meter 2").y) == pytest.approx(250 * 3.5)
    assert fig.layout.yaxis.title.text == "kW"


# --- readability: durations, log axes, order, voltage, status colours, advice ------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1), "1 day"),
        ("1 day, 0:00:00", "1 day"),
        ("376 days, 11:29:00", "376 days 11 h"),
        (timedelta(hours=3), "3 hours"),
        ("3:00:00", "3 hours"),
        ("7 days, 0:00:00", "1 week"),
        (timedelta(weeks=2), "2 weeks"),
        (timedelta(days=30), "30 days"),
        ("0:05:00", "5 min"),
        ("8:20:00", "8 hours 20 min"),
        (timedelta(hours=1, seconds=30), "1 hour"),
        ("1 day 02:00:00", "1 day 2 h"),
        ("3 hours", "3 hours"),
        (timedelta(days=8285, hours=1), "8,285 days 1 h"),
        (timedelta(0), "0 s"),
        (timedelta(milliseconds=250), "250 ms"),
        ("-1 day, 23:00:00", "-1 hour"),
        (None, "-"),
        ("energy_readings", "energy_readings"),
    ],
)
def test_durations_read_like_words(value: timedelta | str | None, text: str) -> None:
    assert charts.format_duration(value) == text


def test_parse_duration_reads_python_and_postgres_text() -> None:
    assert charts.parse_duration("376 days, 11:29:00") == timedelta(days=376, minutes=689)
    assert charts.parse_duration("1 day 02:00:00") == timedelta(days=1, hours=2)
    assert charts.parse_duration("0:00:00.5") == timedelta(milliseconds=500)
    assert charts.parse_duration("1 week") == timedelta(weeks=1)
    assert charts.parse_duration("soon") is None and charts.parse_duration(5) is None


def benchmark(
    variants: tuple[str, ...] = ("energy_readings", "energy_readings_3h"),
) -> pl.DataFrame:
    rows = [
        {"query_name": q, "variant": v, "storage": s, "median_ms": ms, "p95_ms": ms * 1.2,
         "repetitions": 3}
        for q, ms in (("q1", 3.5), ("q4", 250.0))
        for v in variants
        for s in ("uncompressed", "compressed")
    ]  # fmt: skip
    return pl.DataFrame(rows)


def test_benchmark_log_axis_is_ticked_at_powers_of_ten() -> None:
    fig = charts.benchmark_medians(benchmark())
    assert fig.layout.yaxis.type == "log"
    for axis in (fig.layout.yaxis, fig.layout.yaxis2):  # one per storage panel
        assert list(axis.tickvals) == [1.0, 10.0, 100.0, 1000.0]
        assert list(axis.ticktext) == ["1 ms", "10 ms", "100 ms", "1 s"]
        assert list(axis.range) == [0.0, 3.0]


def test_log_ticks_cover_the_data() -> None:
    assert charts.log_ticks(0.2, 2500) == (
        [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0],
        ["0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s"],
    )
    assert charts.log_ticks(10, 10) == ([10.0, 100.0], ["10 ms", "100 ms"])


def test_storage_charts_order_variants_by_the_given_interval_order() -> None:
    order = ["energy_readings_3h", "energy_readings", "energy_readings_week"]
    fig = charts.benchmark_medians(benchmark(("energy_readings", "energy_readings_3h")), order)
    legend = list(dict.fromkeys(t.name for t in fig.data))
    assert legend == ["energy_readings_3h", "energy_readings"]
    sizes = pl.DataFrame(
        {"variant": ["energy_readings", "energy_readings_week", "energy_readings_3h"],
         "before_bytes": [4.0, 5.0, 6.0], "after_bytes": [1.0, 1.0, 1.0]}
    )  # fmt: skip
    bars = charts.compression_sizes(sizes, order)
    assert list(bars.layout.xaxis.categoryarray) == order


def test_voltage_chart_without_violations_says_so_instead_of_empty_axes() -> None:
    quality = pl.DataFrame(
        {"feeder": ["F01", "F02"], "readings": [100, 100], "out_of_band": [0, 0],
         "out_of_band_share": [0.0, 0.0], "min_voltage_pu": [0.95, 0.97],
         "max_voltage_pu": [1.04, 1.02]}
    )  # fmt: skip
    fig = charts.voltage_quality(quality)
    assert not fig.data and fig.layout.xaxis.visible is False
    text = fig.layout.annotations[0].text
    assert text.startswith("No voltage outside ±10 % of nominal in this period")
    assert "95%" in text and "104%" in text
    violated = quality.with_columns(pl.Series("out_of_band_share", [0.02, 0.0]))
    bars = charts.voltage_quality(violated)
    assert list(bars.data[0].y) == [2.0, 0.0]


def test_status_colours_follow_severity() -> None:
    green, amber, red = (charts.SEVERITY_COLORS[s] for s in ("ok", "warn", "failed"))
    assert charts.status_color("ok") == charts.status_color("finished") == green
    assert charts.status_color("stale") == charts.status_color("voltage out of band") == amber
    assert charts.status_color("failed") == charts.status_color("no data") == red
    assert charts.STATUS_COLORS["ok"] == green
    assert list(charts.STATUS_COLORS) == ["ok", "exporting", "voltage out of band", "stale",
                                          "no data"]  # fmt: skip
    css = charts.status_chip_css()
    assert f'[data-tag][aria-label="ok"] {{background-color: {green};' in css
    assert f'[data-tag][aria-label="failed"] {{background-color: {red};' in css
    assert charts.status_badge("ok") == ":green-badge[ok]"
    assert charts.status_badge("stale") == ":orange-badge[stale]"


def test_chip_css_is_scoped_and_escaped() -> None:
    css = charts.chip_css({'3 · "x" </style>': "#FFFFFF"}, scope=".st-key-trend_meters")
    assert css.startswith('.st-key-trend_meters [data-tag][aria-label="3 · \\"x\\" \\3C /style>"]')
    assert "</" not in css and "color: #1F1F1F" in css  # dark text on a light chip


def advice() -> dict[str, object]:
    verdict = {"rows_per_chunk": 1728, "chunk_bytes": 259200, "memory_budget_share": 0.0001,
               "rows_per_segment": 288.0, "fits_memory": True}  # fmt: skip
    return {
        "inputs": {"ingest_rows_per_s": 0.02, "bytes_per_row": 150.0, "memory_bytes": 8 * 2**30,
                   "meters": 6, "reading_interval": "0:05:00"},
        "max_interval_memory": "376 days, 11:29:00",
        "min_interval_compression": "8:20:00",
        "recommended": "12:00:00",
        "verdicts": [
            verdict | {"interval": "7 days, 0:00:00", "compresses_well": True},
            verdict | {"interval": "3:00:00", "compresses_well": False},
            verdict | {"interval": "12:00:00", "compresses_well": True},
            verdict | {"interval": "1 day, 0:00:00", "compresses_well": True},
        ],
    }  # fmt: skip


def test_chunk_advice_reads_as_sentences_and_a_table() -> None:
    sentences = charts.advice_sentences(advice())
    assert sentences[0].startswith("Recommended chunk interval: **12 hours**")
    assert "8 hours 20 min" in sentences[0] and "376 days 11 h" in sentences[0]
    assert "6 meters reporting every 5 min" in sentences[1]
    assert not any("{" in s or "0:00" in s for s in sentences)
    variants = {"energy_readings": timedelta(days=1), "energy_readings_3h": timedelta(hours=3)}
    table = charts.advice_table(advice(), variants)
    assert table.get_column("chunk interval").to_list() == ["3 hours", "12 hours", "1 day",
                                                            "1 week"]  # fmt: skip
    assert table.get_column("verdict").to_list() == [
        "too short to compress well", "recommended", "fits both bounds", "fits both bounds"
    ]  # fmt: skip
    assert table.get_column("variant").to_list() == ["energy_readings_3h", None,
                                                     "energy_readings", None]  # fmt: skip
    other = charts.advice_sentences({"summary": "1 day chunks fit", "best": "energy_readings"})
    assert other == ["1 day chunks fit", "Best: energy_readings."]
    assert charts.advice_table({"summary": "x"}, variants).is_empty()


def test_the_events_timeline_draws_every_kind_also_one_without_a_colour() -> None:
    from dashboard.charts import EVENT_KIND_COLORS, OTHER_KIND_COLOR, events_timeline

    start = datetime(2026, 3, 1)
    frame = pl.DataFrame(
        {
            "kind": ["outage", "clock_drift", "duplicate_storm"],
            "asset_type": ["meter", "meter", "transformer"],
            "asset": ["1", "2", "F01-T001"],
            "severity": ["warning", "warning", "info"],
            "start_local": [start + timedelta(hours=h) for h in (1, 2, 3)],
            "end_local": [start + timedelta(hours=h) for h in (2, 3, 4)],
            "duration": [timedelta(hours=1)] * 3,
        }
    )
    fig = events_timeline(frame, start, start + timedelta(days=1))
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {
        "outage": EVENT_KIND_COLORS["outage"],
        "clock_drift": EVENT_KIND_COLORS["clock_drift"],
        "duplicate_storm": OTHER_KIND_COLOR,
    }
