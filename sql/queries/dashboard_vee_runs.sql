-- Dashboard, Data quality: whether VEE has ever run (`grid-pipeline vee run` or the Dagster
-- validated_readings asset) and its newest run: who ran it, when, over which window, and how
-- many flags and estimates it wrote. No runs at all: the page says how to run it, instead of
-- showing "no flag" as if every reading had passed.
SELECT
    (SELECT count(*) FROM vee_runs)::int                AS runs,
    r.vee_run,
    r.actor,
    r.started_at AT TIME ZONE %(tz)s::text              AS started_local,
    r.window_start AT TIME ZONE %(tz)s::text            AS window_start_local,
    r.window_end AT TIME ZONE %(tz)s::text              AS window_end_local,
    r.flags,
    r.estimates
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT * FROM vee_runs ORDER BY vee_run DESC LIMIT 1
) AS r ON true
