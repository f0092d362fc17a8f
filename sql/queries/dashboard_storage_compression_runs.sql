-- Dashboard, Storage: the newest compression study per hypertable (sizes before and after).
SELECT DISTINCT ON (hypertable)
    hypertable                                  AS variant,
    compressed_at AT TIME ZONE %(tz)s::text     AS compressed_at,
    chunks_compressed,
    rows_before,
    before_total_bytes,
    after_total_bytes,
    detailed_bytes_before,
    detailed_bytes_after,
    seconds
FROM compression_runs
ORDER BY hypertable, compressed_at DESC
