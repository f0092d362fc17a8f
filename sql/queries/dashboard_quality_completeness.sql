-- Dashboard, Data quality: readings per meter and local day against the expected count
-- (the per_day parameter per day), every meter x day of the window present, missing days as 0.
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(%(start_day)s::date, %(end_day)s::date - 1, INTERVAL '1 day') AS d
),
fleet AS (
    SELECT m.meter_id
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
),
counts AS (
    SELECT
        s.meter_id,
        (time_bucket('1 day', s.bucket, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date AS day,
        sum(s.readings) AS readings
    FROM meter_hourly_stats AS s
    JOIN fleet AS f ON f.meter_id = s.meter_id
    WHERE s.bucket >= (%(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
      AND s.bucket < (%(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
    GROUP BY 1, 2
)
SELECT
    f.meter_id,
    d.day,
    coalesce(c.readings, 0)::bigint                                     AS readings,
    least(1.0, coalesce(c.readings, 0)::float8 / %(per_day)s::float8)   AS completeness
FROM fleet AS f
CROSS JOIN days AS d
LEFT JOIN counts AS c ON c.meter_id = f.meter_id AND c.day = d.day
ORDER BY f.meter_id, d.day
