-- Dashboard, Data quality: the newest ingestion runs and their counters (written while a run
-- is in progress, with a heartbeat every heartbeat_s). A 'running' row whose heartbeat stopped
-- for 6 intervals shows as 'stale': its consumer is gone, and the next consumer to start marks
-- it 'abandoned'.
SELECT
    run_id,
    CASE WHEN status = 'running'
          AND coalesce(heartbeat_at, started_at)
              < now() - make_interval(secs => 6 * coalesce(heartbeat_s, 5))
         THEN 'stale' ELSE status END           AS status,
    started_at AT TIME ZONE %(tz)s::text        AS started_at,
    ended_at AT TIME ZONE %(tz)s::text          AS ended_at,
    heartbeat_at AT TIME ZONE %(tz)s::text      AS last_seen,
    received, readings, inserted, duplicates, rejected, batches, acked, overflows, connects,
    commit_ms_p50, commit_ms_p95, lag_s_p50, lag_s_p95,
    error
FROM ingest_runs
ORDER BY started_at DESC
LIMIT %(limit)s
