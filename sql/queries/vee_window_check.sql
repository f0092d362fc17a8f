-- VEE: what the Dagster check of a validated day compares. The (meter, interval) pairs that
-- expect a reading in [start, end) (start and end already clamped to the data set), how many
-- of them the validated series holds, its rows beyond one per pair, and the window's flags
-- and estimates with no finished run (vee_runs) behind them. One row of counts.
WITH expected AS (
    SELECT m.meter_id, t AS "timestamp"
    FROM meters AS m
    CROSS JOIN generate_series(%(start)s::timestamptz,
                               %(end)s::timestamptz - %(interval)s::interval,
                               %(interval)s::interval) AS t
),
series AS (
    SELECT meter_id, "timestamp", count(*) AS n
    FROM validated_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY meter_id, "timestamp"
)
SELECT
    (SELECT count(*) FROM expected) AS expected,
    (SELECT count(*) FROM expected JOIN series USING (meter_id, "timestamp")) AS present,
    (SELECT coalesce(sum(n - 1), 0) FROM series) AS duplicates,
    (SELECT count(*)
     FROM reading_flags AS f LEFT JOIN vee_runs AS r ON r.vee_run = f.vee_run
     WHERE f."timestamp" >= %(start)s AND f."timestamp" < %(end)s
       AND r.finished_at IS NULL) AS unaudited_flags,
    (SELECT count(*)
     FROM reading_estimates AS e LEFT JOIN vee_runs AS r ON r.vee_run = e.vee_run
     WHERE e."timestamp" >= %(start)s AND e."timestamp" < %(end)s
       AND r.finished_at IS NULL) AS unaudited_estimates
