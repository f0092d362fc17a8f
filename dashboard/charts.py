"""Pure functions from a query result (polars DataFrame) to a Plotly figure.

No Streamlit and no database here: each function takes the frame a query in
`data.py` returns and gives back a figure, so charts can be tested on a
hand-made frame and reused outside the app (reports, notebooks). Reshaping that
only serves a picture (pivots, group sums of an already small frame) happens
here too; anything that scans readings happens in SQL.
"""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CLASS_COLORS = {"residential": "#4C78A8", "commercial": "#F58518", "industrial": "#54A24B"}
STATUS_COLORS = {
    "ok": "#54A24B",
    "exporting": "#4C78A8",
    "voltage out of band": "#E45756",
    "stale": "#F58518",
    "no data": "#9D9D9D",
}
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "legend_title_text": ""}


def _finish(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, **_LAYOUT)
    return fig


def empty_figure(title: str, message: str = "No data for this selection") -> go.Figure:
    """A titled, axis-free figure that says there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _finish(fig, title, height=240)


# --- live ---------------------------------------------------------------------------------------


def fleet_load_curve(load: pl.DataFrame) -> go.Figure:
    """Total fleet power per reading time (columns time, power_kw)."""
    title = "Fleet load, last hour (kW, negative = export)"
    if load.is_empty():
        return empty_figure(title)
    fig = px.area(load, x="time", y="power_kw", labels={"power_kw": "kW", "time": ""})
    return _finish(fig, title)


def feeder_breakdown(latest: pl.DataFrame) -> go.Figure:
    """Current power per feeder, stacked by customer class (from the latest reading per meter)."""
    title = "Current load per feeder (kW)"
    reporting = latest.filter(pl.col("power_kw").is_not_null())
    if reporting.is_empty():
        return empty_figure(title)
    per_feeder = (
        reporting.group_by("feeder", "customer_class")
        .agg(pl.col("power_kw").sum())
        .sort("feeder", "customer_class")
    )
    fig = px.bar(
        per_feeder, x="feeder", y="power_kw", color="customer_class",
        color_discrete_map=CLASS_COLORS, labels={"power_kw": "kW", "feeder": ""},
    )  # fmt: skip
    return _finish(fig, title)


def status_counts(latest: pl.DataFrame) -> dict[str, int]:
    """How many meters have each status (every status present, zero when absent)."""
    counts = dict.fromkeys(STATUS_COLORS, 0)
    if not latest.is_empty():
        for status, n in latest.group_by("status").len().iter_rows():
            counts[str(status)] = int(n)
    return counts


# --- daily energy -------------------------------------------------------------------------------


def daily_energy_split(daily: pl.DataFrame, by: str) -> go.Figure:
    """kWh per day stacked by `by` (customer_class or feeder)."""
    title = f"Energy per day by {by.replace('_', ' ')} (kWh)"
    if daily.is_empty():
        return empty_figure(title)
    split = daily.group_by("day", by).agg(pl.col("energy_kwh").sum()).sort("day", by)
    colors = CLASS_COLORS if by == "customer_class" else None
    fig = px.bar(
        split, x="day", y="energy_kwh", color=by, color_discrete_map=colors,
        labels={"energy_kwh": "kWh", "day": ""},
    )  # fmt: skip
    return _finish(fig, title)


def period_comparison(current: pl.DataFrame, previous: pl.DataFrame) -> go.Figure:
    """Daily totals of this period beside the previous one, aligned by day of the period."""
    title = "This period vs the previous one (kWh per day)"
    if current.is_empty() and previous.is_empty():
        return empty_figure(title)
    fig = go.Figure()
    for name, frame in (("previous period", previous), ("this period", current)):
        if frame.is_empty():
            continue
        totals = frame.group_by("day").agg(pl.col("energy_kwh").sum()).sort("day")
        fig.add_bar(
            x=[f"day {i + 1}" for i in range(totals.height)],
            y=totals.get_column("energy_kwh").to_list(),
            name=name,
            hovertext=[str(d) for d in totals.get_column("day").to_list()],
        )
    fig.update_layout(barmode="group")
    return _finish(fig, title, height=320)


def total_kwh(daily: pl.DataFrame) -> float:
    """The sum of a daily energy frame (0 when empty)."""
    return float(daily.get_column("energy_kwh").sum() or 0.0) if daily.height else 0.0


# --- meter trends -------------------------------------------------------------------------------


def trend_with_band(
    trends: pl.DataFrame, value: str, title: str, unit: str, band: tuple[str, str] | None = None
) -> go.Figure:
    """One line per meter; a shaded band between the `band` (low, high) columns if given."""
    if trends.is_empty():
        return empty_figure(title)
    fig = go.Figure()
    palette = px.colors.qualitative.Plotly
    for i, ((meter_id,), frame) in enumerate(trends.group_by(["meter_id"], maintain_order=True)):
        color = palette[i % len(palette)]
        times = frame.get_column("time").to_list()
        if band and set(band) <= set(frame.columns):
            low, high = band
            fig.add_scatter(
                x=times + times[::-1],
                y=frame.get_column(high).to_list() + frame.get_column(low).to_list()[::-1],
                fill="toself", fillcolor=color, opacity=0.18, line={"width": 0},
                hoverinfo="skip", showlegend=False, name=f"meter {meter_id} min-max",
            )  # fmt: skip
        fig.add_scatter(
            x=times, y=frame.get_column(value).to_list(), mode="lines",
            line={"color": color, "width": 1.6}, name=f"meter {meter_id}",
        )  # fmt: skip
    fig.update_yaxes(title_text=unit)
    return _finish(fig, title)


def energy_bars(trends: pl.DataFrame, title: str) -> go.Figure:
    """Energy per interval (raw) or hour (aggregate) per meter, grouped bars."""
    if trends.is_empty():
        return empty_figure(title)
    frame = trends.with_columns(pl.format("meter {}", "meter_id").alias("meter"))
    fig = px.bar(frame, x="time", y="energy_kwh", color="meter", labels={"energy_kwh": "kWh"})
    fig.update_layout(barmode="group")
    return _finish(fig, title, height=300)


# --- insights -----------------------------------------------------------------------------------


def peak_intervals(peaks: pl.DataFrame) -> go.Figure:
    """Seed query 2's ten highest 15-minute mean powers (columns period, avg_power)."""
    title = "Peak 15-minute intervals this week (mean kW per meter)"
    if peaks.is_empty():
        return empty_figure(title)
    frame = peaks.with_columns(pl.col("period").dt.strftime("%a %d %b %H:%M").alias("interval"))
    fig = px.bar(frame, x="interval", y="avg_power", labels={"avg_power": "kW", "interval": ""})
    return _finish(fig, title, height=320)


def monthly_by_meter(monthly: pl.DataFrame, top: int = 20) -> go.Figure:
    """Seed query 3: energy per meter and month, for the `top` meters of the newest month."""
    title = f"Monthly consumption, top {top} meters (kWh)"
    if monthly.is_empty():
        return empty_figure(title)
    newest = monthly.get_column("month").max()
    leaders = (
        monthly.filter(pl.col("month") == newest)
        .sort("total_energy", descending=True)
        .head(top)
        .get_column("meter_id")
    )
    frame = monthly.filter(pl.col("meter_id").is_in(leaders.implode())).with_columns(
        pl.col("meter_id").cast(pl.Utf8).alias("meter"),
        pl.col("month").dt.strftime("%Y-%m").alias("month_label"),
    )
    fig = px.bar(
        frame, x="meter", y="total_energy", color="month_label", barmode="group",
        labels={"total_energy": "kWh", "meter": "meter"},
    )  # fmt: skip
    fig.update_xaxes(type="category")
    return _finish(fig, title)


def load_heatmap(heat: pl.DataFrame) -> go.Figure:
    """Mean fleet load by weekday (rows) and hour (columns)."""
    title = "Mean fleet load by weekday and hour (kW)"
    if heat.is_empty():
        return empty_figure(title)
    grid = [[None] * 24 for _ in range(7)]
    for weekday, hour, power in heat.select("weekday", "hour", "power_kw").iter_rows():
        grid[int(weekday) - 1][int(hour)] = power
    fig = go.Figure(
        go.Heatmap(z=grid, x=list(range(24)), y=list(WEEKDAYS), colorscale="Viridis",
                   colorbar={"title": {"text": "kW"}})
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="hour of day", dtick=2)
    return _finish(fig, title)


def top_consumers(top: pl.DataFrame) -> go.Figure:
    """Imported energy of the largest consumers, coloured by class."""
    title = "Top consumers by imported energy (kWh)"
    if top.is_empty():
        return empty_figure(title)
    frame = top.with_columns(pl.format("meter {}", "meter_id").alias("meter"))
    fig = px.bar(
        frame, x="import_kwh", y="meter", color="customer_class", orientation="h",
        color_discrete_map=CLASS_COLORS, labels={"import_kwh": "kWh", "meter": ""},
    )  # fmt: skip
    fig.update_yaxes(categoryorder="total ascending")
    return _finish(fig, title, height=420)


def solar_export(solar: pl.DataFrame) -> go.Figure:
    """Energy exported by PV meters per day, stacked by class."""
    title = "Solar export per day (kWh)"
    if solar.is_empty():
        return empty_figure(title, "No meters with PV in this selection")
    fig = px.bar(
        solar, x="day", y="export_kwh", color="customer_class",
        color_discrete_map=CLASS_COLORS, labels={"export_kwh": "kWh", "day": ""},
    )  # fmt: skip
    return _finish(fig, title)


def voltage_quality(quality: pl.DataFrame) -> go.Figure:
    """Share of readings outside +-10 % of nominal voltage per feeder (percent)."""
    title = "Readings outside +-10% of nominal voltage, per feeder"
    if quality.is_empty():
        return empty_figure(title)
    frame = quality.with_columns((pl.col("out_of_band_share").fill_null(0) * 100).alias("percent"))
    fig = px.bar(frame, x="feeder", y="percent", labels={"percent": "% of readings", "feeder": ""})
    return _finish(fig, title, height=320)


def peak_demand(peaks: pl.DataFrame, top: int = 25) -> go.Figure:
    """Peak 15-minute demand of the `top` meters, coloured by class."""
    title = f"Peak 15-minute demand, top {top} meters (kW)"
    if peaks.is_empty():
        return empty_figure(title)
    frame = (
        peaks.sort("peak_kw", descending=True)
        .head(top)
        .with_columns(pl.format("meter {}", "meter_id").alias("meter"))
    )
    fig = px.bar(
        frame, x="meter", y="peak_kw", color="customer_class", color_discrete_map=CLASS_COLORS,
        hover_data=["peak_of_rated"], labels={"peak_kw": "kW", "meter": ""},
    )  # fmt: skip
    fig.update_xaxes(categoryorder="total descending")
    return _finish(fig, title)


# --- data quality -------------------------------------------------------------------------------


def completeness_heatmap(complete: pl.DataFrame) -> go.Figure:
    """Share of expected readings per meter (rows) and day (columns), 0-100 %."""
    title = "Completeness per meter and day (% of expected readings)"
    if complete.is_empty():
        return empty_figure(title)
    days = sorted(complete.get_column("day").unique().to_list())
    meters = sorted(complete.get_column("meter_id").unique().to_list())
    row_of = {m: i for i, m in enumerate(meters)}
    col_of = {d: i for i, d in enumerate(days)}
    grid: list[list[float | None]] = [[None] * len(days) for _ in meters]
    for meter_id, day, share in complete.select("meter_id", "day", "completeness").iter_rows():
        grid[row_of[meter_id]][col_of[day]] = 100.0 * share
    fig = go.Figure(
        go.Heatmap(
            z=grid, x=[str(d) for d in days], y=[str(m) for m in meters], zmin=0, zmax=100,
            colorscale="RdYlGn", colorbar={"title": {"text": "%"}},
            hovertemplate="meter %{y}<br>%{x}<br>%{z:.1f}%<extra></extra>",
        )
    )  # fmt: skip
    fig.update_yaxes(title_text="meter", type="category", autorange="reversed")
    return _finish(fig, title, height=max(320, min(900, 40 + 6 * len(meters))))


def rejects_by_reason(rejects: pl.DataFrame) -> go.Figure:
    """Quarantined payloads per reason."""
    title = "Quarantined payloads by reason"
    if rejects.is_empty():
        return empty_figure(title, "No quarantined payloads")
    fig = px.bar(rejects, x="payloads", y="reason", orientation="h", labels={"reason": ""})
    fig.update_yaxes(categoryorder="total ascending")
    return _finish(fig, title, height=300)


# --- storage and benchmarks ---------------------------------------------------------------------


def compression_sizes(sizes: pl.DataFrame) -> go.Figure:
    """Bytes before and after compression per variant (MiB), grouped bars."""
    title = "Size before and after compression per variant (MiB)"
    if sizes.is_empty():
        return empty_figure(title)
    long = sizes.select(
        "variant",
        (pl.col("before_bytes") / 2**20).alias("before"),
        (pl.col("after_bytes") / 2**20).alias("after"),
    ).unpivot(index="variant", variable_name="state", value_name="mib")
    fig = px.bar(long, x="variant", y="mib", color="state", barmode="group",
                 labels={"mib": "MiB", "variant": ""})  # fmt: skip
    return _finish(fig, title, height=320)


def benchmark_medians(results: pl.DataFrame) -> go.Figure:
    """Median query time per query and variant, one panel per storage kind (log scale)."""
    title = "Benchmark: median query time per variant (ms, log scale)"
    if results.is_empty():
        return empty_figure(title)
    fig = px.bar(
        results, x="query_name", y="median_ms", color="variant", barmode="group",
        facet_col="storage", log_y=True, hover_data=["p95_ms", "repetitions"],
        labels={"median_ms": "ms", "query_name": ""},
    )  # fmt: skip
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return _finish(fig, title, height=420)
