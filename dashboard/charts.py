"""Pure functions from a query result (polars DataFrame) to a Plotly figure.

No Streamlit and no database here: each function takes the frame a query in
`data.py` returns and gives back a figure, so charts can be tested on a
hand-made frame and reused outside the app (reports, notebooks). Reshaping that
only serves a picture (pivots, group sums of an already small frame) happens
here too; anything that scans readings happens in SQL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CLASS_COLORS = {"residential": "#4C78A8", "commercial": "#F58518", "industrial": "#54A24B"}

# --- colours ------------------------------------------------------------------------------------

#: Status chips and status colours everywhere: ok = green, warn = amber, failed = red.
SEVERITY_COLORS = {
    "ok": "#2E7D32",
    "info": "#1F6FB2",
    "warn": "#F0A202",
    "failed": "#C62828",
    "unknown": "#757575",
}
#: Streamlit's badge colour per severity (`:green-badge[ok]` in Markdown).
_BADGE = {"ok": "green", "info": "blue", "warn": "orange", "failed": "red", "unknown": "gray"}
#: The severity of each status the pages show: a live meter's, an ingestion run's.
STATUS_SEVERITY = {
    "ok": "ok",
    "exporting": "info",
    "voltage out of band": "warn",
    "stale": "warn",
    "no data": "failed",
    "finished": "ok",
    "running": "info",
    "warn": "warn",
    "failed": "failed",
}
#: The Live page's meter statuses, in display order, with their colour.
STATUS_COLORS = {
    status: SEVERITY_COLORS[STATUS_SEVERITY[status]]
    for status in ("ok", "exporting", "voltage out of band", "stale", "no data")
}
#: One colour per meter in every chart (24 distinct ones, repeating every 24 ids).
METER_PALETTE: tuple[str, ...] = tuple(px.colors.qualitative.Dark24)


def meter_color(meter_id: int) -> str:
    """The colour of a meter in every chart and chip: fixed by its id alone.

    It does not depend on which other meters are shown or in which chart, so
    meter 7 is the same colour in the power, energy and voltage charts and after
    the selection changes.
    """
    return METER_PALETTE[(int(meter_id) - 1) % len(METER_PALETTE)]


def meter_colors(meter_ids: Iterable[int]) -> dict[int, str]:
    """`meter_color` for several meters."""
    return {int(m): meter_color(m) for m in meter_ids}


def status_color(status: str) -> str:
    """The colour of a status by its severity (grey when unknown)."""
    return SEVERITY_COLORS[STATUS_SEVERITY.get(status, "unknown")]


def status_badge(status: str) -> str:
    """A Streamlit Markdown badge for a status, coloured by severity (`:green-badge[ok]`)."""
    color = _BADGE[STATUS_SEVERITY.get(status, "unknown")]
    label = status.replace("[", "(").replace("]", ")")
    return f":{color}-badge[{label}]"


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on a `#RRGGBB` background."""
    red, green, blue = (int(background.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return "#1F1F1F" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#FFFFFF"


def _css_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ")
    return escaped.replace("\n", " ")


def chip_css(colors: Mapping[str, str], scope: str = "") -> str:
    """CSS colouring Streamlit's multiselect chips by their label (all chips are red otherwise).

    A chip is `<span data-tag aria-label="LABEL">` (Streamlit 1.67); `scope` narrows the
    rules to one widget, e.g. `.st-key-trend_meters` for the widget with that key.
    """
    rules = []
    for label, color in colors.items():
        selector = f'{scope} [data-tag][aria-label="{_css_string(label)}"]'.strip()
        rules.append(f"{selector} {{background-color: {color}; color: {text_color_on(color)};}}")
    return "\n".join(rules)


def status_chip_css() -> str:
    """`chip_css` for every known status: an "ok" chip is green wherever it appears."""
    return chip_css({status: status_color(status) for status in STATUS_SEVERITY})


# --- readable numbers ---------------------------------------------------------------------------

_UNIT_SECONDS = {
    "w": 604800, "week": 604800, "weeks": 604800,
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}  # fmt: skip
_DURATION_PART = re.compile(
    r"(?P<number>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)"
    r"|(?P<hours>[-+]?\d+):(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2}(?:\.\d+)?)"
)


def parse_duration(value: object) -> timedelta | None:
    """A duration from a timedelta or its text; None when it is not one.

    Reads Python's `str(timedelta)` ("376 days, 11:29:00", "0:05:00"), PostgreSQL's interval
    text ("1 day 02:00:00") and plain phrases ("3 hours", "1 week", "5 min").
    """
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(",", " ")
    if not text or _DURATION_PART.sub("", text).strip():
        return None
    seconds = 0.0
    for part in _DURATION_PART.finditer(text):
        if part["unit"] is not None:
            if part["unit"] not in _UNIT_SECONDS:
                return None
            seconds += float(part["number"]) * _UNIT_SECONDS[part["unit"]]
        else:
            sign = -1.0 if part["hours"].startswith("-") else 1.0
            seconds += float(part["hours"]) * 3600 + sign * (
                int(part["minutes"]) * 60 + float(part["seconds"])
            )
    return timedelta(seconds=seconds)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def format_duration(value: object) -> str:
    """A duration as people write it: "1 day", "3 hours", "1 week", "376 days 11 h", "5 min".

    The largest unit in words, then the next smaller one if it is not zero ("8 hours 20 min");
    whole weeks up to nine weeks read as weeks. Text that is no duration is returned as is.
    """
    delta = parse_duration(value)
    if delta is None:
        return "-" if value is None else str(value)
    if delta < timedelta(0):
        return "-" + format_duration(-delta)
    total = delta.total_seconds()
    if total == 0:
        return "0 s"
    if total < 1:
        return f"{total * 1000:.0f} ms"
    days, rest = divmod(round(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days and days % 7 == 0 and days <= 63 and not (hours or minutes or seconds):
        return _plural(days // 7, "week")
    parts = [
        (days, _plural(days, "day"), f"{days} d"),
        (hours, _plural(hours, "hour"), f"{hours} h"),
        (minutes, f"{minutes} min", f"{minutes} min"),
        (seconds, f"{seconds} s", f"{seconds} s"),
    ]
    first = next(i for i, (n, _, _) in enumerate(parts) if n)
    words = parts[first][1]
    if first + 1 < len(parts) and parts[first + 1][0]:
        words += " " + parts[first + 1][2]
    return words


def format_ms(ms: float) -> str:
    """A query time: "0.1 ms", "10 ms", "1 s", "10 s"."""
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values and labels of a log axis in ms: every power of ten from below `low` to
    above `high` (1, 10, 100, 1000 ms -> "1 ms", "10 ms", "100 ms", "1 s")."""
    high = high if high > 0 else 1.0
    low = low if 0 < low <= high else high
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last == first:
        last += 1
    values = [10.0**exponent for exponent in range(first, last + 1)]
    return values, [format_ms(v) for v in values]


# --- chunk-interval advice ---------------------------------------------------------------------


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def advice_sentences(advice: Mapping[str, object]) -> list[str]:
    """The benchmark's chunk-interval advice (`benchmark_runs.advice`) in sentences, the
    recommendation first. Advice of another shape: its summary, then its plain values."""
    if "verdicts" not in advice:
        lines = [str(advice[k]) for k in ("summary", "recommendation") if advice.get(k)]
        for key, value in advice.items():
            if key not in ("summary", "recommendation") and isinstance(value, str | int | float):
                text = format_duration(value) if isinstance(value, str) else f"{value:,}"
                lines.append(f"{key.replace('_', ' ').capitalize()}: {text}.")
        return lines
    low = format_duration(advice.get("min_interval_compression"))
    high = format_duration(advice.get("max_interval_memory"))
    recommended = advice.get("recommended")
    lines = [
        f"Recommended chunk interval: **{format_duration(str(recommended))}**, the shortest "
        f"standard interval between the compression bound ({low}) and the memory bound ({high})."
        if recommended
        else f"No standard interval fits both bounds (at least {low}, at most {high}): "
        "add memory or reduce the row size."
    ]
    inputs = advice.get("inputs")
    if isinstance(inputs, Mapping):
        rate, row = _number(inputs.get("ingest_rows_per_s")), _number(inputs.get("bytes_per_row"))
        memory, meters = _number(inputs.get("memory_bytes")), _number(inputs.get("meters"))
        every = format_duration(inputs.get("reading_interval"))
        if rate is not None and row is not None and memory is not None and meters is not None:
            lines.append(
                f"Measured: {meters:,.0f} meters reporting every {every} ({rate:,.2f} rows/s), "
                f"{row:,.0f} bytes per row with its indexes, {memory / 2**30:,.1f} GiB of memory."
            )
    lines += [
        f"Memory bound: the chunk being written, with its indexes, should fit in a quarter of "
        f"the memory, so at most {high}.",
        f"Compression bound: a chunk should hold at least 100 readings per meter to compress "
        f"well, so at least {low}.",
    ]
    return lines


def _percent(share: float | None) -> str:
    if share is None or math.isnan(share):
        return "-"
    if math.isinf(share):
        return "∞"
    if share and abs(share) < 0.0001:
        return "< 0.01 %"
    return f"{share * 100:,.{0 if abs(share) >= 0.1 else 2}f} %"


def advice_table(advice: Mapping[str, object], variants: Mapping[str, timedelta]) -> pl.DataFrame:
    """One row per candidate interval, shortest first: its size against both bounds, a verdict,
    and the configured variant (`variants`: table -> chunk interval) that uses it."""
    verdicts = advice.get("verdicts")
    if not isinstance(verdicts, list) or not verdicts:
        return pl.DataFrame()
    recommended = parse_duration(advice.get("recommended"))
    by_interval = {interval: table for table, interval in variants.items()}
    rows = []
    for v in verdicts:
        if not isinstance(v, Mapping):
            continue
        interval = parse_duration(v.get("interval"))
        fits, compresses = bool(v.get("fits_memory")), bool(v.get("compresses_well"))
        verdict = (
            "recommended" if interval is not None and interval == recommended
            else "fits both bounds" if fits and compresses
            else "too short to compress well" if fits
            else "too large for memory"
        )  # fmt: skip
        rows.append(
            {
                "_seconds": interval.total_seconds() if interval is not None else math.inf,
                "chunk interval": format_duration(v.get("interval")),
                "verdict": verdict,
                "variant": by_interval.get(interval) if interval is not None else None,
                "rows per chunk": _number(v.get("rows_per_chunk")),
                "chunk MB": (_number(v.get("chunk_bytes")) or 0.0) / 1e6,
                "share of memory budget": _percent(_number(v.get("memory_budget_share"))),
                "rows per meter": _number(v.get("rows_per_segment")),
            }
        )
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows).sort("_seconds").drop("_seconds")


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


#: How the meter charts scale their y axes (URL value -> label on the page).
SCALES = {
    "common": "Shared axis",
    "per_meter": "Per meter (own axis each)",
    "normalised": "% of each meter's peak",
}


def _meters(trends: pl.DataFrame) -> list[tuple[int, pl.DataFrame]]:
    """The frame split per meter, in meter id order (rows keep their time order)."""
    ordered = trends.sort("meter_id", maintain_order=True)
    return [
        (int(meter_id), frame)
        for (meter_id,), frame in ordered.group_by(["meter_id"], maintain_order=True)
    ]


def _peak(frame: pl.DataFrame, columns: Sequence[str]) -> float:
    """The largest absolute value in `columns` (1 when there is none, so nothing divides by 0)."""
    peak = frame.select(
        pl.max_horizontal(pl.col(c).cast(pl.Float64).abs().max() for c in columns)
    ).item()
    return float(peak) if peak else 1.0


def _meter_figure(meters: Sequence[int], scale: str) -> go.Figure:
    """One plot for all meters, or one row per meter with its own y axis ("per_meter")."""
    if scale != "per_meter":
        return go.Figure()
    return make_subplots(
        rows=len(meters), cols=1, shared_xaxes=True,
        vertical_spacing=min(0.06, 0.3 / len(meters)),
    )  # fmt: skip


def _finish_meters(
    fig: go.Figure, title: str, unit: str, meters: Sequence[int], scale: str, height: int
) -> go.Figure:
    if scale == "per_meter":
        for row, meter_id in enumerate(meters, start=1):
            fig.update_yaxes(
                title_text=f"meter {meter_id}", title_font_color=meter_color(meter_id),
                row=row, col=1,
            )  # fmt: skip
        return _finish(
            fig, f"{title}, one axis per meter", height=max(height, 90 + 120 * len(meters))
        )
    fig.update_yaxes(title_text="% of the meter's peak" if scale == "normalised" else unit)
    return _finish(
        fig, title + (", % of each meter's peak" if scale == "normalised" else ""), height
    )


def trend_with_band(
    trends: pl.DataFrame,
    value: str,
    title: str,
    unit: str,
    band: tuple[str, str] | None = None,
    scale: str = "common",
) -> go.Figure:
    """One line per meter in its `meter_color`; a shaded band between the `band` (low, high)
    columns if given.

    `scale` (one of SCALES): "common" puts every meter on one y axis; "per_meter" draws a row
    per meter with its own y axis, so a 3 kW house beside an 800 kW plant is not a flat line;
    "normalised" shows each meter in percent of its own peak (hover shows the real value).
    """
    if trends.is_empty():
        return empty_figure(title)
    meters = _meters(trends)
    ids = [m for m, _ in meters]
    fig = _meter_figure(ids, scale)
    for row, (meter_id, frame) in enumerate(meters, start=1):
        color = meter_color(meter_id)
        at = {"row": row, "col": 1} if scale == "per_meter" else {}
        bands = list(band) if band and set(band) <= set(frame.columns) else []
        factor = 100.0 / _peak(frame, [value, *bands]) if scale == "normalised" else 1.0
        times = frame.get_column("time").to_list()
        if bands:
            low, high = bands
            outline = frame.get_column(high).to_list() + frame.get_column(low).to_list()[::-1]
            fig.add_scatter(
                x=times + times[::-1],
                y=[v * factor if v is not None else None for v in outline],
                fill="toself", fillcolor=color, opacity=0.18, line={"width": 0},
                hoverinfo="skip", showlegend=False, name=f"meter {meter_id} min-max",
                legendgroup=f"meter {meter_id}", **at,
            )  # fmt: skip
        values = frame.get_column(value).to_list()
        line = {
            "x": times, "mode": "lines", "line": {"color": color, "width": 1.6},
            "name": f"meter {meter_id}", "legendgroup": f"meter {meter_id}",
        }  # fmt: skip
        if scale == "normalised":
            fig.add_scatter(
                y=[v * factor if v is not None else None for v in values], customdata=values,
                hovertemplate=f"%{{y:.0f}} % of peak (%{{customdata:.2f}} {unit})",
                **line, **at,
            )  # fmt: skip
        else:
            fig.add_scatter(y=values, **line, **at)
    return _finish_meters(fig, title, unit, ids, scale, height=360)


def energy_bars(trends: pl.DataFrame, title: str, scale: str = "common") -> go.Figure:
    """Energy per interval (raw) or hour (aggregate) per meter, grouped bars in the meter's
    colour; `scale` as in `trend_with_band`."""
    if trends.is_empty():
        return empty_figure(title)
    meters = _meters(trends)
    ids = [m for m, _ in meters]
    fig = _meter_figure(ids, scale)
    for row, (meter_id, frame) in enumerate(meters, start=1):
        at = {"row": row, "col": 1} if scale == "per_meter" else {}
        values = frame.get_column("energy_kwh").to_list()
        bar = {
            "x": frame.get_column("time").to_list(), "name": f"meter {meter_id}",
            "marker_color": meter_color(meter_id), "legendgroup": f"meter {meter_id}",
        }  # fmt: skip
        if scale == "normalised":
            factor = 100.0 / _peak(frame, ["energy_kwh"])
            fig.add_bar(
                y=[v * factor if v is not None else None for v in values], customdata=values,
                hovertemplate="%{y:.0f} % of peak (%{customdata:.3f} kWh)", **bar, **at,
            )  # fmt: skip
        else:
            fig.add_bar(y=values, **bar, **at)
    fig.update_layout(barmode="group")
    return _finish_meters(fig, title, "kWh", ids, scale, height=300)


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
    """Share of readings outside +-10 % of nominal voltage per feeder (percent).

    With no reading outside the band the figure says so in words instead of drawing
    empty axes, with the range the voltages stayed in when it is known.
    """
    title = "Readings outside +-10% of nominal voltage, per feeder"
    if quality.is_empty():
        return empty_figure(title)
    frame = quality.with_columns((pl.col("out_of_band_share").fill_null(0) * 100).alias("percent"))
    if not frame.get_column("percent").sum():
        message = "No voltage outside ±10 % of nominal in this period"
        if {"min_voltage_pu", "max_voltage_pu"} <= set(frame.columns):
            low, high = (
                frame.get_column("min_voltage_pu").min(),
                frame.get_column("max_voltage_pu").max(),
            )
            if isinstance(low, float) and isinstance(high, float):
                message += f"<br>(every reading between {low:.0%} and {high:.0%} of nominal)"
        return empty_figure(title, message)
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


#: How a flagged reading ended: replaced for billing by an estimate, or flagged and kept.
VEE_OUTCOME_COLORS = {
    "replaced by an estimate": SEVERITY_COLORS["warn"],
    "flagged, kept": SEVERITY_COLORS["info"],
}


def vee_flags_by_rule(by_rule: pl.DataFrame) -> go.Figure:
    """Readings flagged per VEE rule (whatever rules the table holds), split into those an
    estimate replaced and those kept as the meter sent them; most flagged rule on top."""
    title = "Readings flagged per VEE rule"
    if by_rule.is_empty():
        return empty_figure(title, "No reading flagged")
    long = by_rule.select(
        "rule",
        pl.col("estimated").alias("replaced by an estimate"),
        (pl.col("flags") - pl.col("estimated")).alias("flagged, kept"),
    ).unpivot(index="rule", variable_name="outcome", value_name="readings")
    fig = px.bar(
        long, x="readings", y="rule", color="outcome", orientation="h",
        color_discrete_map=VEE_OUTCOME_COLORS, labels={"rule": "", "readings": "readings"},
    )  # fmt: skip
    fig.update_yaxes(categoryorder="total ascending")
    fig = _finish(fig, title, height=max(300, 180 + 32 * by_rule.height))
    # Under the axis: beside the bars it squeezes them, above them it runs into the title.
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0})
    return fig


def vee_readings_table(readings: pl.DataFrame) -> pl.DataFrame:
    """A meter's flagged readings as an operator reads them: time, what the meter sent (or
    "missing"), the rules, the estimate and its method, why, and who decided it when."""

    def kwh(column: str, absent: str) -> pl.Expr:
        return (
            pl.when(pl.col(column).is_null())
            .then(pl.lit(absent))
            .otherwise(pl.col(column).cast(pl.Float64).round(3).cast(pl.Utf8))
        )

    return readings.select(
        pl.col("time").dt.strftime("%Y-%m-%d %H:%M").alias("Time"),
        kwh("original_kwh", "missing").alias("Sent (kWh)"),
        pl.col("rules").alias("Rules"),
        kwh("estimate_kwh", "-").alias("Estimate (kWh)"),
        pl.col("method").fill_null("kept").alias("Method"),
        pl.col("why").alias("Why"),
        pl.col("actor").fill_null("-").alias("By"),
        pl.col("decided_at").dt.strftime("%Y-%m-%d %H:%M").fill_null("-").alias("Decided"),
        pl.col("vee_run").alias("Run"),
    )


# --- storage and benchmarks ---------------------------------------------------------------------


def _variant_order(present: Iterable[str], order: Sequence[str]) -> list[str]:
    """`order`'s variants that are present, then the others by name."""
    found = set(present)
    return [v for v in order if v in found] + sorted(found - set(order))


def compression_sizes(sizes: pl.DataFrame, order: Sequence[str] = ()) -> go.Figure:
    """Bytes before and after compression per variant (MiB), grouped bars; variants in
    `order` (by chunk interval on the Storage page), others after them by name."""
    title = "Size before and after compression per variant (MiB)"
    if sizes.is_empty():
        return empty_figure(title)
    long = sizes.select(
        "variant",
        (pl.col("before_bytes") / 2**20).alias("before"),
        (pl.col("after_bytes") / 2**20).alias("after"),
    ).unpivot(index="variant", variable_name="state", value_name="mib")
    variants = _variant_order(long.get_column("variant").to_list(), order)
    fig = px.bar(long, x="variant", y="mib", color="state", barmode="group",
                 category_orders={"variant": variants},
                 labels={"mib": "MiB", "variant": ""})  # fmt: skip
    return _finish(fig, title, height=320)


def benchmark_medians(results: pl.DataFrame, order: Sequence[str] = ()) -> go.Figure:
    """Median query time per query and variant, one panel per storage kind, on a log axis
    ticked at whole powers of ten (1 ms, 10 ms, 100 ms, 1 s); variants in `order`."""
    title = "Benchmark: median query time per variant (log scale)"
    if results.is_empty():
        return empty_figure(title)
    variants = _variant_order(results.get_column("variant").to_list(), order)
    fig = px.bar(
        results, x="query_name", y="median_ms", color="variant", barmode="group",
        facet_col="storage", log_y=True, hover_data=["p95_ms", "repetitions"],
        category_orders={"variant": variants}, labels={"median_ms": "median", "query_name": ""},
    )  # fmt: skip
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    times = [float(t) for t in results.get_column("median_ms").drop_nulls().to_list() if t > 0]
    if times:
        values, labels = log_ticks(min(times), max(times))
        fig.update_yaxes(
            tickvals=values, ticktext=labels,
            range=[math.log10(values[0]), math.log10(values[-1])],
        )  # fmt: skip
    return _finish(fig, title, height=420)


# --- events -------------------------------------------------------------------------------------

#: One colour per event kind in every events chart (fixed, so a kind keeps its colour whichever
#: kinds are shown): supply problems in reds, voltage in blues, loading in oranges/purples,
#: metering faults in greys and greens.
EVENT_KIND_COLORS = {
    "outage": "#C62828",
    "voltage_sag": "#1F6FB2",
    "voltage_swell": "#6BAED6",
    "overload": "#F58518",
    "reverse_flow": "#9467BD",
    "theft": "#8C564B",
    "stuck": "#7F7F7F",
    "zero": "#2CA02C",
    "spike": "#E377C2",
    "clock_drift": "#17BECF",
}
#: A kind without a colour of its own above (one a detector added later) still gets drawn.
OTHER_KIND_COLOR = "#BCBD22"
#: Event severities, most urgent first, with their colour (the status colours).
EVENT_SEVERITY_COLORS = {
    "critical": SEVERITY_COLORS["failed"],
    "warning": SEVERITY_COLORS["warn"],
    "info": SEVERITY_COLORS["info"],
}
_EVENT_TIME = "%Y-%m-%d %H:%M"


def asset_label(asset_type: str, asset: str) -> str:
    """How an event's asset reads: "meter 17", "transformer T-F01-03", "feeder F01"."""
    return f"{asset_type} {asset}"


def format_evidence(evidence: object, limit: int = 5) -> str:
    """An event's evidence (JSON text or a mapping) as "key=value" pairs, numbers rounded.

    The detectors store flat numbers (peak ratio, minutes, meters affected). jsonb keeps no
    key order, so keys are sorted by name; the first `limit` are shown, an ellipsis says when
    there are more.
    """
    if isinstance(evidence, str):
        text = evidence
        try:
            evidence = json.loads(text) if text else {}
        except ValueError:
            return text
    if not isinstance(evidence, Mapping) or not evidence:
        return ""
    parts = []
    for key, value in sorted(evidence.items())[:limit]:
        shown = f"{value:,.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts) + (", ..." if len(evidence) > limit else "")


def events_table(events: pl.DataFrame) -> pl.DataFrame:
    """The rows an operator reads, newest first: kind, asset (with its transformer and feeder),
    start, end or "open", duration ("so far" while open), severity, acknowledged (by whom and
    when, short: it comes before the evidence, which is the widest), evidence.

    Times are the local timestamps the query returns, written as text so an open event's end
    can read "open" in the same column.
    """
    columns = ["Kind", "Asset", "Transformer", "Feeder", "Start", "End", "Duration",
               "Severity", "Acknowledged", "Evidence"]  # fmt: skip
    if events.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    rows = []
    for e in events.iter_rows(named=True):
        is_open = e["end_local"] is None
        duration = format_duration(e["duration"])
        ack = e["acknowledged_local"]
        rows.append(
            [
                str(e["kind"]),
                asset_label(e["asset_type"], e["asset"]),
                e["transformer"] or "-",
                e["feeder"] or "-",
                e["start_local"].strftime(_EVENT_TIME),
                "open" if is_open else e["end_local"].strftime(_EVENT_TIME),
                f"{duration} so far" if is_open else duration,
                str(e["severity"]),
                f"{e.get('acknowledged_by') or '?'} · {ack:%m-%d %H:%M}" if ack else "",
                format_evidence(e["evidence"]),
            ]
        )
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


def events_timeline(
    events: pl.DataFrame, start: datetime, end: datetime, top: int = 40
) -> go.Figure:
    """Each event as a bar on its asset's row over the window [start, end) (local times),
    coloured by kind; open events run to the window's end.

    The `top` assets with the most events get a row (the title says when more had events).
    An event shorter than a 300th of the window (a 5-minute spike over 3 days) is drawn that
    wide so it stays visible; its hover shows the true start, end and duration.
    """
    title = "Events per asset over the window"
    if events.is_empty():
        return empty_figure(title, "No events for this selection")
    labelled = events.with_columns(
        pl.struct("asset_type", "asset")
        .map_elements(lambda a: asset_label(a["asset_type"], a["asset"]), return_dtype=pl.String)
        .alias("label")
    )
    ranked = labelled.group_by("label").len().sort(["len", "label"], descending=[True, False])
    assets = ranked.get_column("label").head(top).to_list()
    if ranked.height > top:
        title += f" (the {top} of {ranked.height} assets with the most events)"
    least = (end - start) / 300
    fig = go.Figure()
    present = set(labelled.get_column("kind").to_list())
    kinds = [k for k in EVENT_KIND_COLORS if k in present] + sorted(
        present - set(EVENT_KIND_COLORS)
    )
    for kind in kinds:
        color = EVENT_KIND_COLORS.get(kind, OTHER_KIND_COLOR)
        rows = labelled.filter((pl.col("kind") == kind) & pl.col("label").is_in(assets))
        if rows.is_empty():
            continue
        bases, widths, hovers = [], [], []
        for e in rows.iter_rows(named=True):
            begin = max(e["start_local"], start)
            finish = min(e["end_local"] or end, end)
            bases.append(begin)
            widths.append(max(finish - begin, least).total_seconds() * 1000)
            ends = "open" if e["end_local"] is None else f"{e['end_local']:{_EVENT_TIME}}"
            hovers.append(
                f"{e['label']}<br>{kind}, {e['severity']}<br>{e['start_local']:{_EVENT_TIME}}"
                f" to {ends}<br>{format_duration(e['duration'])}"
            )
        fig.add_bar(
            y=rows.get_column("label").to_list(), x=widths, base=bases, orientation="h",
            name=kind, marker_color=color, hovertext=hovers, hoverinfo="text",
        )  # fmt: skip
    fig.update_xaxes(type="date", range=[start, end])
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=assets[::-1], title_text=""
    )
    fig.update_layout(barmode="overlay")
    return _finish(fig, title, height=max(280, min(1000, 120 + 24 * len(assets))))


def events_per_asset(counts: pl.DataFrame, by: str, top: int = 15) -> go.Figure:
    """Events per feeder or transformer (`by`), stacked by severity, most events on top."""
    title = f"Events per {by} (top {top})"
    if counts.is_empty():
        return empty_figure(title, "No events for this selection")
    ranked = counts.sort(["events", by], descending=[True, False]).head(top)
    long = ranked.unpivot(
        index=by, on=list(EVENT_SEVERITY_COLORS), variable_name="severity", value_name="n"
    ).filter(pl.col("n") > 0)
    fig = px.bar(
        long, x="n", y=by, color="severity", orientation="h",
        color_discrete_map=EVENT_SEVERITY_COLORS,
        category_orders={by: ranked.get_column(by).to_list(),
                         "severity": list(EVENT_SEVERITY_COLORS)},
        labels={"n": "events", by: ""},
    )  # fmt: skip
    fig.update_yaxes(type="category")
    most = int(ranked.get_column("events").max() or 0)  # type: ignore[arg-type]
    fig.update_xaxes(tickformat=",d", dtick=1 if most <= 10 else None)  # whole events only
    return _finish(fig, title, height=max(260, min(600, 90 + 26 * ranked.height)))


# --- power quality ------------------------------------------------------------------------------

#: EN 50160 verdict colours: pass green, fail red, incomplete (week not whole) grey.
VERDICT_COLORS = {
    "pass": SEVERITY_COLORS["ok"],
    "fail": SEVERITY_COLORS["failed"],
    "incomplete": SEVERITY_COLORS["unknown"],
}
#: ANSI C84.1 band colours and labels, in display order.
ANSI_BANDS = {
    "ansi_a": ("Range A (0.95-1.05 pu)", SEVERITY_COLORS["ok"]),
    "ansi_b_only": ("Range B, not A", SEVERITY_COLORS["warn"]),
    "ansi_outside": ("outside Range B", SEVERITY_COLORS["failed"]),
}


def week_label(week: datetime) -> str:
    """A week as the people read it: its Monday, e.g. 'week of 2026-11-16'."""
    return f"week of {week:%Y-%m-%d}"


def verdict_counts(pq: pl.DataFrame) -> pl.DataFrame:
    """Meters per week and verdict: one row per week with a column per verdict (0 if none)."""
    return (
        pq.group_by("week")
        .agg((pl.col("verdict") == v).sum().cast(pl.Int64).alias(v) for v in VERDICT_COLORS)
        .sort("week")
    )


def judged_week_index(weeks: pl.DataFrame) -> int:
    """Index, in the newest-first list of `weeks` (from `verdict_counts`), of the newest week
    with a verdict (pass or fail) for some meter; 0 (the newest) when every week is incomplete.
    """
    newest_first = weeks.sort("week", descending=True)
    judged = (newest_first.get_column("pass") + newest_first.get_column("fail")) > 0
    return int(judged.arg_true()[0]) if judged.any() else 0


def power_quality_verdicts(pq: pl.DataFrame) -> go.Figure:
    """EN 50160 verdicts per week: meters that pass, fail or whose week is incomplete."""
    title = "EN 50160 weekly verdict: meters per week"
    if pq.is_empty():
        return empty_figure(title)
    long = (
        verdict_counts(pq)
        .with_columns(pl.col("week").map_elements(week_label, return_dtype=pl.String))
        .unpivot(index="week", on=list(VERDICT_COLORS), variable_name="verdict", value_name="n")
    )
    fig = px.bar(
        long, x="week", y="n", color="verdict", color_discrete_map=VERDICT_COLORS,
        category_orders={"verdict": list(VERDICT_COLORS)}, labels={"n": "meters", "week": ""},
        text_auto=True,
    )  # fmt: skip
    fig.update_traces(textangle=0)
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=",d")
    return _finish(fig, title, height=340)


FAILING_COLUMNS = (
    "meter_id", "customer_class", "feeder", "share_within_10pct", "any_outside_limits",
    "windows", "windows_excluded", "ansi_a", "ansi_b_only", "ansi_outside",
)  # fmt: skip


def failing_meters(pq: pl.DataFrame) -> pl.DataFrame:
    """The meters failing EN 50160, worst share first: what a user reads in the table."""
    return (
        pq.filter(pl.col("verdict") == "fail")
        .sort(["share_within_10pct", "meter_id"], nulls_last=True)
        .select(FAILING_COLUMNS)
    )


def ansi_shares_by_feeder(pq: pl.DataFrame) -> pl.DataFrame:
    """Per feeder, the share of 10-minute means in each ANSI band (weighted by windows)."""
    shares = [
        ((pl.col(c).fill_null(0) * pl.col("windows")).sum() / pl.col("windows").sum()).alias(c)
        for c in ANSI_BANDS
    ]
    return (
        pq.filter(pl.col("windows") > 0)
        .group_by("feeder")
        .agg(*shares, pl.col("windows").sum())
        .sort("feeder")
    )


def power_quality_ansi(pq: pl.DataFrame) -> go.Figure:
    """ANSI C84.1 bands of the 10-minute mean voltages per feeder.

    Range A holds nearly every mean on a healthy feeder (99.9 % is typical), so a bar
    stacked to 100 % would show one colour: the bars are the shares outside Range A (in
    Range B only, and outside B) and each feeder's label carries its Range A share.
    """
    title = "ANSI C84.1: 10-minute means outside Range A, per feeder"
    shares = ansi_shares_by_feeder(pq) if not pq.is_empty() else pq
    if shares.is_empty():
        return empty_figure(title)
    shares = shares.with_columns(
        pl.format("{} · A {}%", "feeder", (pl.col("ansi_a") * 100).round(2)).alias("label")
    )
    outside_a = [k for k in ANSI_BANDS if k != "ansi_a"]
    if not shares.select(pl.sum_horizontal(outside_a).sum()).item():
        return empty_figure(title, "Every 10-minute mean lies in Range A (0.95-1.05 pu)")
    long = shares.unpivot(
        index=["feeder", "label"], on=outside_a, variable_name="band", value_name="share"
    ).with_columns(
        (pl.col("share") * 100).alias("percent"),
        pl.col("band").replace_strict({k: label for k, (label, _) in ANSI_BANDS.items()}),
    )
    fig = px.bar(
        long, x="percent", y="label", color="band", orientation="h",
        color_discrete_map={label: color for label, color in ANSI_BANDS.values()},
        category_orders={"band": [ANSI_BANDS[k][0] for k in outside_a],
                         "label": shares.get_column("label").to_list()},
        labels={"percent": "% of 10-minute means", "label": ""},
    )  # fmt: skip
    fig.update_yaxes(type="category")
    return _finish(fig, title, height=max(260, min(700, 110 + 28 * shares.height)))
