-- Dashboard, Storage: the newest benchmark run that has results, with the chunk-interval advice.
SELECT
    r.run_id,
    r.started_at AT TIME ZONE %(tz)s::text      AS started_at,
    r.finished_at AT TIME ZONE %(tz)s::text     AS finished_at,
    r.engine,
    r.timescaledb_version,
    r.rows,
    r.meters,
    r.days,
    r.cores,
    r.repetitions,
    r.advice::text                              AS advice
FROM benchmark_runs AS r
WHERE EXISTS (SELECT 1 FROM benchmark_results AS b WHERE b.run_id = r.run_id)
ORDER BY r.started_at DESC
LIMIT 1
