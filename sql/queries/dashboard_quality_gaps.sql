-- Dashboard, Data quality: meter-hours with fewer readings than expected, worst first, hours
-- without any reading included. Expected counts only intervals (the interval parameter) that
-- have ended and lie inside the data set, as in dashboard_quality_completeness.sql: from the
-- first reading up to time_bucket(interval, now()). So the current hour expects only its ended
-- intervals and is not a gap while they are all there. gap_hours and missing_total count every
-- gap of the window, before the limit. [start_day, end_day) are local dates in tz.
WITH bounds AS (
    SELECT
        coalesce((SELECT min("timestamp") FROM energy_readings), now())   AS data_start,
        time_bucket(%(interval)s::interval, now())                        AS data_end,
        extract(epoch FROM %(interval)s::interval)                        AS step_s
),
hours AS (
    SELECT
        h.hour,
        (ceil(extract(epoch FROM least(h.hour + INTERVAL '1 hour', b.data_end)) / b.step_s)
         - ceil(extract(epoch FROM greatest(h.hour, b.data_start)) / b.step_s))::int AS expected
    FROM generate_series(
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            (%(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text) - INTERVAL '1 hour',
            INTERVAL '1 hour') AS h(hour)
    CROSS JOIN bounds AS b
    WHERE least(h.hour + INTERVAL '1 hour', b.data_end) > greatest(h.hour, b.data_start)
),
fleet AS (
    SELECT m.meter_id, m.feeder
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
),
hourly AS NOT MATERIALIZED (
    -- Bounds written out (not taken from `bounds`) so TimescaleDB can exclude chunks.
    SELECT s.meter_id, s.bucket, s.readings
    FROM meter_hourly_stats AS s
    WHERE s.bucket >= (%(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
      AND s.bucket < least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket('1 hour', time_bucket(%(interval)s::interval, now())))
    UNION ALL
    SELECT r.meter_id, time_bucket('1 hour', r."timestamp"), count(*)
    FROM energy_readings AS r
    WHERE r."timestamp" >= greatest(
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket('1 hour', time_bucket(%(interval)s::interval, now())))
      AND r."timestamp" < least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket(%(interval)s::interval, now()))
    GROUP BY 1, 2
),
per_meter AS (
    -- Per meter: hours with readings (every one lies in `hours`: it holds a reading inside the
    -- data set) and whether any has fewer than expected. One grouped pass over the hourly rows.
    SELECT c.meter_id, count(*) AS n, bool_or(c.readings < h.expected) AS short
    FROM hourly AS c
    JOIN hours AS h ON h.hour = c.bucket
    GROUP BY c.meter_id
),
suspect AS (
    -- Only meters with an hour short or missing can have gaps. Pairing every meter with every
    -- hour instead (840,000 pairs at 5,000 meters x a week) cost most of the page's time.
    SELECT f.meter_id, f.feeder
    FROM fleet AS f
    LEFT JOIN per_meter AS p ON p.meter_id = f.meter_id
    WHERE p.meter_id IS NULL OR p.short OR p.n < (SELECT count(*) FROM hours)
),
gaps AS (
    SELECT s.meter_id, s.feeder, h.hour, coalesce(c.readings, 0)::int AS readings, h.expected
    FROM suspect AS s
    CROSS JOIN hours AS h
    LEFT JOIN hourly AS c ON c.meter_id = s.meter_id AND c.bucket = h.hour
    WHERE coalesce(c.readings, 0) < h.expected
)
SELECT
    meter_id,
    feeder,
    hour AT TIME ZONE %(tz)s::text                      AS hour,
    readings,
    expected,
    expected - readings                                 AS missing,
    count(*) OVER ()::int                               AS gap_hours,
    sum(expected - readings) OVER ()::bigint            AS missing_total
FROM gaps
ORDER BY missing DESC, gaps.hour DESC, meter_id
LIMIT %(limit)s
