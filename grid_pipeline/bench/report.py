"""Write a benchmark report: `report.md` (tables), `results.json`, `report.html` (Plotly).

The HTML file is self-contained (plotly.js inlined once), so it can be mailed
or archived and opened anywhere without network access.
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from grid_pipeline.bench.advisor import Advice
from grid_pipeline.bench.run import BenchReport
from grid_pipeline.storage.compression import GORILLA_BYTES_PER_VALUE

SEED_QUERIES = (
    "q1_hourly_power_today",
    "q2_peak_15min_this_week",
    "q3_monthly_consumption_by_meter",
    "q4_full_scan",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ratio(slow: float | None, fast: float | None) -> str:
    return "-" if not slow or not fast else f"{slow / fast:,.1f}x"


def headline_table(report: BenchReport) -> str:
    """Per variant: compression ratio, and Q1-Q4 medians uncompressed / compressed / aggregate."""
    lines = [
        "| variant | chunk interval | compression | "
        + " | ".join(f"{q.split('_')[0].upper()} ms (unc / comp / agg)" for q in SEED_QUERIES)
        + " |",
        "|---|---|---|" + "---|" * len(SEED_QUERIES),
    ]
    primary = report.compression[0].table if report.compression else ""
    for comp in report.compression:
        cells = []
        for q in SEED_QUERIES:
            agg = report.median(q, comp.table, "aggregate") if comp.table == primary else None
            cells.append(
                f"{_ms(report.median(q, comp.table, 'uncompressed'))} / "
                f"{_ms(report.median(q, comp.table, 'compressed'))} / {_ms(agg)}"
            )
        lines.append(
            f"| {comp.table} | {comp.chunk_interval} | {comp.ratio:.2f}x "
            f"({comp.percent_smaller:.1f}% smaller) | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def key_ratios(report: BenchReport) -> dict[str, str]:
    """Speed-ups the issues set goals for (aggregate vs raw, compressed vs uncompressed)."""
    primary = report.compression[0].table if report.compression else "energy_readings"
    ratios = {}
    for q in ("q2_peak_15min_this_week", "q3_monthly_consumption_by_meter"):
        ratios[f"{q}: aggregate vs raw"] = _ratio(
            report.median(q, primary, "uncompressed"), report.median(q, primary, "aggregate")
        )
    for comp in report.compression:
        ratios[f"q4_full_scan on {comp.table}: compressed vs uncompressed"] = _ratio(
            report.median("q4_full_scan", comp.table, "uncompressed"),
            report.median("q4_full_scan", comp.table, "compressed"),
        )
    return ratios


def ingest_table(report: BenchReport) -> str:
    if not report.ingest:
        return "_not measured_"
    naive = report.ingest[0].rows_per_s
    ceiling = next((p.rows_per_s for p in report.ingest if "ceiling" in p.name), 0.0)
    lines = ["| path | engine | rows | rows/s | x naive | x ceiling |", "|---|---|---|---|---|---|"]
    for p in report.ingest:
        lines.append(
            f"| {p.name} | {p.engine} | {p.rows:,} | {p.rows_per_s:,.0f} | "
            f"{p.rows_per_s / naive:,.1f} | "
            f"{p.rows_per_s / ceiling if ceiling else 0:.2f} |"
        )
    return "\n".join(lines)


def advice_section(advice: Advice | None) -> str:
    """The advisor's bounds, recommendation and per-interval verdicts as Markdown."""
    if advice is None:
        return "_no advice_"
    i = advice.inputs
    lines = [
        f"Inputs: {i.ingest_rows_per_s:,.2f} rows/s ({i.meters} meters every "
        f"{i.reading_interval}), {i.bytes_per_row:,.0f} bytes per row with indexes "
        f"(measured), {i.memory_bytes / 2**30:,.1f} GiB memory.",
        "",
        f"* memory bound (active chunk <= 25% of memory): <= {advice.max_interval}",
        f"* compression bound (>= 100 rows per meter segment): >= {advice.min_interval}",
        f"* **recommended: {advice.recommended or 'none fits: add memory or reduce row size'}**",
        "",
        "| interval | rows per chunk | chunk MB | share of 25% memory | rows per segment "
        "| fits memory | compresses well |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in advice.verdicts:
        lines.append(
            f"| {v.interval} | {v.rows_per_chunk:,} | {v.chunk_bytes / 1e6:,.1f} | "
            f"{v.memory_budget_share:.4%} | {v.rows_per_segment:,.0f} | "
            f"{'yes' if v.fits_memory else 'no'} | {'yes' if v.compresses_well else 'no'} |"
        )
    return "\n".join(lines)


def all_queries_table(report: BenchReport) -> str:
    lines = [
        "| query | variant | storage | median ms | p95 ms | rows |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.queries:
        t = r.timing
        lines.append(
            f"| {r.query} | {r.variant} | {r.storage} | {t.median_ms:,.1f} | {t.p95_ms:,.1f} "
            f"| {t.result_rows:,} |"
        )
    return "\n".join(lines)


def bytes_per_value_table(report: BenchReport) -> str:
    """Per variant: readings per compressed batch and stored bytes per value per column,
    beside the Gorilla paper's float figure."""
    columns = list(report.compression[0].bytes_per_value) if report.compression else []
    lines = [
        "| variant | rows per batch | " + " | ".join(f"{c} B/value" for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for comp in report.compression:
        figures = " | ".join(f"{comp.bytes_per_value.get(c, 0.0):.2f}" for c in columns)
        lines.append(f"| {comp.table} | {comp.rows_per_batch:.0f} | {figures} |")
    lines.append(
        f"\nGorilla paper (Facebook, 2015): {GORILLA_BYTES_PER_VALUE} bytes per float value."
    )
    return "\n".join(lines)


def column_types_table(report: BenchReport) -> str:
    """One day of the data set compressed as the stored integers and as float8, per
    chunk interval: how much smaller, and stored bytes per value per column."""
    if not report.column_types:
        return "No whole UTC day loaded: nothing to compare."
    columns = list(report.column_types[0].bytes_per_value)
    lines = [
        "| chunk interval | column type | rows | smaller | rows per batch | "
        + " | ".join(f"{c} B/value" for c in columns)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(columns),
    ]
    for r in report.column_types:
        figures = " | ".join(f"{r.bytes_per_value.get(c, 0.0):.2f}" for c in columns)
        label = "integer (the schema)" if r.column_type == "integer" else "float8 (before 009)"
        lines.append(
            f"| {r.chunk_interval} | {label} | {r.rows:,} | {r.percent_smaller:.1f}% "
            f"| {r.rows_per_batch:.0f} | {figures} |"
        )
    return "\n".join(lines)


def markdown(report: BenchReport) -> str:
    ratios = "\n".join(f"* {k}: **{v}**" for k, v in key_ratios(report).items())
    return f"""# Grid Pipeline benchmark (run {report.run_id})

{report.engine}, TimescaleDB {report.timescaledb_version}; {report.rows:,} rows,
{report.meters} meters, {report.days} days; {report.cores} cores,
{report.memory_bytes / 2**30:.1f} GiB; {report.repetitions} repetitions after one
warm-up, medians (p95 in the full table). Started {report.started_at}.

## Headline: compression and the seed's queries per variant

{headline_table(report)}

Key ratios:

{ratios}

## Compressed layout: rows per batch, stored bytes per value

{bytes_per_value_table(report)}

## Column types: the stored integers against float8, one day, side by side

{column_types_table(report)}

## Ingest paths (same rows, same engine, one run)

{ingest_table(report)}

## Chunk-interval advice

{advice_section(report.advice)}

## Every measurement

{all_queries_table(report)}
"""


def figures(report: BenchReport) -> list[go.Figure]:
    """Query time per variant and storage, compression ratio per variant, ingest ladder."""
    q = pl.DataFrame(
        [{"query": r.query, "series": f"{r.variant} / {r.storage}", "median_ms": r.timing.median_ms}
         for r in report.queries]
    )  # fmt: skip
    query_fig = go.Figure(
        [go.Bar(name=series, x=part["query"].to_list(), y=part["median_ms"].to_list())
         for (series,), part in q.group_by("series", maintain_order=True)]
    ) if not q.is_empty() else go.Figure()  # fmt: skip
    query_fig.update_layout(
        title="Query median (ms, log scale) per variant and storage", barmode="group",
        yaxis_type="log", yaxis_title="ms",
    )  # fmt: skip
    comp_fig = go.Figure(
        go.Bar(x=[c.table for c in report.compression], y=[c.ratio for c in report.compression],
               text=[f"{c.percent_smaller:.1f}% smaller" for c in report.compression])
    )  # fmt: skip
    comp_fig.update_layout(title="Compression ratio per variant", yaxis_title="x smaller")
    ingest_fig = go.Figure(
        go.Bar(y=[f"{p.name} [{p.engine}]" for p in report.ingest],
               x=[p.rows_per_s for p in report.ingest], orientation="h")
    )  # fmt: skip
    ingest_fig.update_layout(
        title="Ingest ladder (rows/s, log scale)", xaxis_type="log", margin={"l": 380}
    )
    return [query_fig, comp_fig, ingest_fig]


def html(report: BenchReport) -> str:
    charts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0))
        for i, fig in enumerate(figures(report))
    ]
    tables = markdown(report).replace("&", "&amp;").replace("<", "&lt;")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Grid Pipeline benchmark {report.run_id}</title></head><body>"
        f"<h1>Grid Pipeline benchmark (run {report.run_id})</h1>{''.join(charts)}"
        f"<h2>Tables</h2><pre>{tables}</pre></body></html>"
    )


def write_report(report: BenchReport, out_dir: Path) -> dict[str, Path]:
    """Write the three files; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "report.md",
        "json": out_dir / "results.json",
        "html": out_dir / "report.html",
    }
    paths["markdown"].write_text(markdown(report))
    paths["json"].write_text(json.dumps(report.to_json(), indent=2))
    paths["html"].write_text(html(report))
    return paths
