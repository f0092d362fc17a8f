-- Sizes of one hypertable as both TimescaleDB views report them:
-- hypertable_compression_stats (before/after totals of the compressed chunks)
-- and hypertable_detailed_size (what is on disk now, indexes and toast included).
SELECT
    cs.total_chunks,
    cs.number_compressed_chunks,
    cs.before_compression_total_bytes,
    cs.after_compression_total_bytes,
    ds.table_bytes,
    ds.index_bytes,
    ds.toast_bytes,
    ds.total_bytes
FROM hypertable_compression_stats(%(table)s::regclass) AS cs,
     hypertable_detailed_size(%(table)s::regclass) AS ds
