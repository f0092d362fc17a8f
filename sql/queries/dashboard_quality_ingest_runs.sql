-- Dashboard, Data quality: the newest ingestion runs and their counters.
SELECT
    run_id,
    status,
    started_at AT TIME ZONE %(tz)s::text        AS started_at,
    ended_at AT TIME ZONE %(tz)s::text          AS ended_at,
    received, readings, inserted, duplicates, rejected, batches, acked, overflows, connects,
    commit_ms_p50, commit_ms_p95, lag_s_p50, lag_s_p95,
    error
FROM ingest_runs
ORDER BY started_at DESC
LIMIT %(limit)s
