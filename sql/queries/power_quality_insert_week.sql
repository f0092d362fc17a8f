-- Power quality of the week starting %(week)s (a Monday 00:00 UTC), one row per meter.
--
-- Readings -> 10-minute mean voltage per meter (windows containing a voltage of 0 are an
-- interruption: counted apart, in no share) -> per meter the EN 50160 and ANSI C84.1 counts.
-- Compared exactly in bigint: a window's mean is s / c (its sum in the stored 0.1 V over its
-- readings), `n` is the nominal in 0.1 V, and every limit is a ratio of integers
-- (s * 100 <= 110 * n * c is "at most 10 percent above"), so a mean exactly on a limit is
-- inside it; integer products also cost a fraction of numeric averages. A week is whole
-- when readings exist in its first and its last 10 minutes; otherwise the verdict is
-- 'incomplete' (the counts are still stored).
WITH extent AS (
    SELECT min("timestamp") AS first_reading, max("timestamp") AS last_reading
    FROM energy_readings
),
means AS (
    SELECT e.meter_id,
           time_bucket('10 minutes', e."timestamp") AS bucket,
           sum(e.voltage)         AS s,
           count(*)               AS c,
           bool_or(e.voltage = 0) AS interrupted
    FROM energy_readings AS e
    WHERE e."timestamp" >= %(week)s AND e."timestamp" < %(week)s + interval '7 days'
    GROUP BY 1, 2
),
judged AS (
    SELECT m.meter_id,
           m.interrupted,
           m.s * 100 >= 90 * x.n * m.c AND m.s * 100 <= 110 * x.n * m.c   AS within,
           m.s * 100 > 110 * x.n * m.c OR m.s * 100 < 85 * x.n * m.c      AS outside,
           m.s * 100 >= 95 * x.n * m.c AND m.s * 100 <= 105 * x.n * m.c   AS range_a,
           m.s * 120 >= 110 * x.n * m.c AND m.s * 120 <= 127 * x.n * m.c  AS range_b
    FROM means AS m
    JOIN (SELECT meter_id, round(nominal_voltage * 10)::bigint AS n FROM meters) AS x
        ON x.meter_id = m.meter_id
),
counts AS (
    SELECT meter_id,
           count(*) FILTER (WHERE NOT interrupted)             AS windows,
           count(*) FILTER (WHERE interrupted)                 AS excluded,
           count(*) FILTER (WHERE NOT interrupted AND within)  AS within,
           count(*) FILTER (WHERE NOT interrupted AND outside) AS outside,
           count(*) FILTER (WHERE NOT interrupted AND range_a) AS range_a,
           count(*) FILTER (WHERE NOT interrupted AND range_b) AS range_b
    FROM judged
    GROUP BY meter_id
)
INSERT INTO power_quality_weekly (
    meter_id, week, windows, windows_excluded, share_within_10pct, any_outside_limits,
    verdict, ansi_a, ansi_b_only, ansi_outside, computed_at
)
SELECT
    c.meter_id,
    %(week)s,
    c.windows,
    c.excluded,
    c.within::float8 / nullif(c.windows, 0),
    c.outside > 0,
    CASE
        WHEN x.first_reading IS NULL
          OR x.first_reading >= %(week)s + interval '10 minutes'
          OR x.last_reading < %(week)s + interval '7 days' - interval '10 minutes'
          OR c.windows = 0 THEN 'incomplete'
        WHEN c.outside = 0 AND c.within * 100 >= 95 * c.windows THEN 'pass'
        ELSE 'fail'
    END,
    c.range_a::float8 / nullif(c.windows, 0),
    (c.range_b - c.range_a)::float8 / nullif(c.windows, 0),
    (c.windows - c.range_b)::float8 / nullif(c.windows, 0),
    now()
FROM counts AS c
CROSS JOIN extent AS x
