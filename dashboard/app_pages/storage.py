"""Storage and benchmarks: how much each hypertable variant takes before and after
compression, how fast the benchmark queries ran on each, and the chunk-interval advice.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

st.title("Storage and benchmarks")
filters = state.current()
variants = tuple(v.table for v in data.settings().chunk_variants)

st.subheader("Hypertable variants")
tables = data.hypertables(variants)
present = set(tables.get_column("variant").to_list()) if tables.height else set()
missing = [v for v in variants if v not in present]
if tables.is_empty():
    components.empty_state("No readings hypertable found.")
else:
    compressed = tables.filter(pl.col("after_bytes").is_not_null())
    cols = st.columns(len(tables.rows()))
    for col, row in zip(cols, tables.iter_rows(named=True), strict=True):
        before, after = row["before_bytes"], row["after_bytes"]
        ratio = f"{before / after:.1f}x compressed" if before and after else "not compressed"
        col.metric(
            row["variant"],
            f"{(row['total_bytes'] or 0) / 2**20:,.0f} MiB",
            help=f"chunk interval {row['chunk_interval']}",
        )
        col.caption(
            f"{row['chunks']} chunks ({row['compressed_chunks']} compressed), "
            f"interval {row['chunk_interval']}; {ratio}"
        )
    if compressed.height:
        components.chart(charts.compression_sizes(compressed), key="compression")
    else:
        st.info(
            "No variant is compressed yet: materialise the compression assets in the Dagster UI.",
            icon=":material/compress:",
        )
if missing:
    st.caption(
        "Not created yet: "
        + ", ".join(f"`{m}`" for m in missing)
        + " (`grid-pipeline generate` builds the variants)."
    )
runs = data.compression_runs(filters.timezone)
if runs.height:
    with st.expander("Compression runs (newest per variant)"):
        st.dataframe(runs, hide_index=True, width="stretch")

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
components.chart(charts.benchmark_medians(results), key="benchmark")
with st.expander("Medians and p95 per query, variant and storage"):
    st.dataframe(results, hide_index=True, width="stretch")

st.subheader("Chunk-interval advice")
advice = run.get("advice")
if not advice:
    st.info("This benchmark run recorded no chunk-interval advice.", icon=":material/lightbulb:")
else:
    summary = (
        advice.get("summary") or advice.get("recommendation") if isinstance(advice, dict) else None
    )
    if summary:
        st.success(str(summary), icon=":material/lightbulb:")
    st.json(advice, expanded=1)
