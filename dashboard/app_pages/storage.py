"""Storage and benchmarks: how much each hypertable variant takes before and after
compression, how fast the benchmark queries ran on each, and the chunk-interval advice.

Variants are ordered by chunk interval everywhere on the page (shortest first), and
intervals read as words ("3 hours", "1 day", "1 week").
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

st.title("Storage and benchmarks")
filters = state.current()
configured = {v.table: v.interval for v in data.settings().chunk_variants}
variants = tuple(configured)

st.subheader("Hypertable variants")
tables = data.hypertables(variants)
# The interval each variant really has (from the database), else the configured one.
intervals: dict[str, timedelta] = dict(configured)
for name, interval in (
    tables.select("variant", "chunk_interval").iter_rows() if tables.height else []
):
    if isinstance(interval, timedelta):
        intervals[str(name)] = interval
order = sorted(intervals, key=lambda v: (intervals[v], v))
rank = {v: i for i, v in enumerate(order)}


def by_interval(frame: pl.DataFrame, *then: str) -> pl.DataFrame:
    """`frame`'s rows by their variant's chunk interval (then by `then`), the interval in words
    beside the variant."""
    if frame.is_empty() or "variant" not in frame.columns:
        return frame
    words = {v: charts.format_duration(i) for v, i in intervals.items()}
    return (
        frame.with_columns(
            pl.col("variant")
            .replace_strict(words, default="-", return_dtype=pl.Utf8)
            .alias("chunk interval"),
            pl.col("variant")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
            .alias("_rank"),
        )
        .sort("_rank", *then)
        .select("variant", "chunk interval", pl.exclude("variant", "chunk interval", "_rank"))
    )


present = set(tables.get_column("variant").to_list()) if tables.height else set()
missing = [v for v in order if v in configured and v not in present]
if tables.is_empty():
    components.empty_state("No readings hypertable found.")
else:
    tables = by_interval(tables)
    compressed = tables.filter(pl.col("after_bytes").is_not_null())
    cols = st.columns(len(tables.rows()))
    for col, row in zip(cols, tables.iter_rows(named=True), strict=True):
        before, after = row["before_bytes"], row["after_bytes"]
        ratio = f"{before / after:.1f}x compressed" if before and after else "not compressed"
        col.metric(
            row["variant"],
            f"{(row['total_bytes'] or 0) / 2**20:,.0f} MiB",
            help=f"Chunk interval {row['chunk interval']}",
        )
        col.caption(
            f"Chunks of {row['chunk interval']}: {row['chunks']} "
            f"({row['compressed_chunks']} compressed); {ratio}."
        )
    if compressed.height:
        components.chart(charts.compression_sizes(compressed, order), key="compression")
    else:
        st.info(
            "No variant is compressed yet: materialise the compression assets in the Dagster UI.",
            icon=":material/compress:",
        )
if missing:
    st.caption(
        "Not created yet: "
        + ", ".join(f"`{m}` ({charts.format_duration(configured[m])} chunks)" for m in missing)
        + " (`grid-pipeline generate` builds the variants)."
    )
runs = data.compression_runs(filters.timezone)
if runs.height:
    with st.expander("Compression runs (newest per variant)"):
        st.dataframe(by_interval(runs), hide_index=True, width="stretch")

st.subheader("Query benchmark")
run = data.benchmark_run(filters.timezone)
if run is None:
    components.empty_state(
        "No benchmark results yet.",
        "Run `grid-pipeline bench`, or materialise the benchmark assets in the Dagster UI.",
    )
    st.stop()
st.caption(
    f"Run {run['run_id']} started {run['started_at']:%Y-%m-%d %H:%M}: {run['engine']}, "
    f"TimescaleDB {run['timescaledb_version']}, {run['rows']:,} rows, {run['meters']:,} meters, "
    f"{run['cores']} cores, {run['repetitions']} repetitions per query."
)
results = data.benchmark_results(int(run["run_id"]))
components.chart(charts.benchmark_medians(results, order), key="benchmark")
with st.expander("Medians and p95 per query, variant and storage"):
    st.dataframe(
        by_interval(results, "query_name", "storage"),
        hide_index=True,
        width="stretch",
        column_config={
            "median_ms": st.column_config.NumberColumn("median ms", format="%.2f"),
            "p95_ms": st.column_config.NumberColumn("p95 ms", format="%.2f"),
        },
    )

st.subheader("Chunk-interval advice")
advice = run.get("advice")
if not advice or not isinstance(advice, dict):
    st.info("This benchmark run recorded no chunk-interval advice.", icon=":material/lightbulb:")
else:
    sentences = charts.advice_sentences(advice)
    if sentences:
        st.success(sentences[0], icon=":material/lightbulb:")
        st.markdown("\n".join(f"- {line}" for line in sentences[1:]))
    verdicts = charts.advice_table(advice, {v: intervals[v] for v in configured})
    if verdicts.height:
        st.dataframe(
            verdicts,
            hide_index=True,
            width="stretch",
            column_config={
                "rows per chunk": st.column_config.NumberColumn(format="localized"),
                "chunk MB": st.column_config.NumberColumn(format="%.1f"),
                "rows per meter": st.column_config.NumberColumn(format="%.0f"),
            },
        )
        st.caption(
            "One row per candidate chunk interval, shortest first; the variant column names "
            "the configured hypertable that uses it."
        )
    with st.expander("The advice as stored (JSON)"):
        st.json(advice, expanded=False)
