-- Dashboard, Live: ingestion rate and lag. Readings/s counts readings whose timestamp falls in
-- the last five minutes of wall-clock time; lag is now() minus the newest reading; the run
-- columns come from the newest ingestion run (NULL when ingestion never ran).
WITH recent AS (
    SELECT count(*)::bigint AS readings
    FROM energy_readings
    WHERE "timestamp" > now() - INTERVAL '5 minutes'
),
newest AS (SELECT max("timestamp") AS t FROM energy_readings),
run AS (
    SELECT run_id, status, started_at, received, inserted, duplicates, rejected,
           lag_s_p50, lag_s_p95
    FROM ingest_runs
    ORDER BY started_at DESC
    LIMIT 1
)
SELECT
    (recent.readings / 300.0)::float8                           AS readings_per_s,
    extract(epoch FROM now() - newest.t)::float8                AS lag_s,
    run.run_id, run.status, run.started_at, run.received, run.inserted,
    run.duplicates, run.rejected, run.lag_s_p50, run.lag_s_p95
FROM recent
CROSS JOIN newest
LEFT JOIN run ON true
