-- Dashboard, Data quality: meter-hours with fewer readings than expected, worst first, hours
-- without any reading included. Expected counts only intervals (the interval parameter) that
-- have ended and lie inside the data set, as in dashboard_quality_completeness.sql: from the
-- first reading up to time_bucket(interval, now()). So the current hour expects only its ended
-- intervals and is not a gap while they are all there. gap_hours and missing_total count every
-- gap of the window, before the limit. [start_day, end_day) are local dates in tz.
--
-- Why it goes through days: readings sit on the interval grid (the validator refuses any other
-- timestamp) and a meter has one reading per instant, so no hour holds more than it expects. A
-- meter-day with all its readings therefore has no gap; one with none has every hour missing
-- in full. Only the meter-days in between need their hours read. Counting per meter and day
-- comes from meter_daily_stats (whole UTC days, [days_from, days_to) from the data layer) and
-- meter_hourly_stats, as completeness does: about a twentieth of the rows of pairing every
-- meter with every hour, which cost most of the page's time at 5,000 meters.
WITH bounds AS (
    SELECT
        coalesce((SELECT min("timestamp") FROM energy_readings), now())   AS data_start,
        time_bucket(%(interval)s::interval, now())                        AS data_end,
        extract(epoch FROM %(interval)s::interval)                        AS step_s
),
hours AS (
    SELECT
        h.hour,
        (h.hour AT TIME ZONE %(tz)s::text)::date AS day,
        (ceil(extract(epoch FROM least(h.hour + INTERVAL '1 hour', b.data_end)) / b.step_s)
         - ceil(extract(epoch FROM greatest(h.hour, b.data_start)) / b.step_s))::int AS expected
    FROM generate_series(
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            (%(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text) - INTERVAL '1 hour',
            INTERVAL '1 hour') AS h(hour)
    CROSS JOIN bounds AS b
    WHERE least(h.hour + INTERVAL '1 hour', b.data_end) > greatest(h.hour, b.data_start)
),
days AS (
    -- Per local day: the readings it expects and its hours that expect any.
    SELECT
        day,
        sum(expected)::bigint                                   AS expected,
        count(*)::int                                           AS hours,
        day::timestamp AT TIME ZONE %(tz)s::text                AS lo,
        (day + 1)::timestamp AT TIME ZONE %(tz)s::text          AS hi
    FROM hours
    GROUP BY day
),
fleet AS (
    SELECT m.meter_id, m.feeder
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
),
counted AS (
    -- Readings per meter and bucket, as in dashboard_quality_completeness.sql (bounds written
    -- out so TimescaleDB can exclude chunks): whole UTC days from meter_daily_stats, the hours
    -- around them from meter_hourly_stats, the ended part of the current hour from the readings.
    SELECT d.meter_id, d.bucket, d.readings
    FROM meter_daily_stats AS d
    WHERE d.bucket >= %(days_from)s
      AND d.bucket < least(%(days_to)s, time_bucket('1 day', least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket('1 hour', time_bucket(%(interval)s::interval, now())))))
    UNION ALL
    SELECT s.meter_id, s.bucket, s.readings
    FROM meter_hourly_stats AS s
    WHERE s.bucket >= (%(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
      AND s.bucket < least(%(days_from)s, %(days_to)s, time_bucket('1 day', least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket('1 hour', time_bucket(%(interval)s::interval, now())))))
    UNION ALL
    SELECT s.meter_id, s.bucket, s.readings
    FROM meter_hourly_stats AS s
    WHERE s.bucket >= greatest(
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            least(%(days_to)s, time_bucket('1 day', least(
                %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
                time_bucket('1 hour', time_bucket(%(interval)s::interval, now()))))))
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
per_day AS (
    SELECT c.meter_id, (c.bucket AT TIME ZONE %(tz)s::text)::date AS day, sum(c.readings) AS readings
    FROM counted AS c
    GROUP BY 1, 2
),
short_days AS MATERIALIZED (
    -- Meter-days with fewer readings than expected: the only ones that can hold a gap.
    SELECT f.meter_id, f.feeder, d.day, d.lo, d.hi, d.hours, d.expected,
           coalesce(p.readings, 0) AS readings
    FROM fleet AS f
    CROSS JOIN days AS d
    LEFT JOIN per_day AS p ON p.meter_id = f.meter_id AND p.day = d.day
    WHERE coalesce(p.readings, 0) < d.expected
),
partial_hours AS (
    -- The hours of the meter-days that have some readings: read per meter and day.
    SELECT sd.meter_id, sd.feeder, h.hour, coalesce(x.readings, 0)::int AS readings, h.expected
    FROM short_days AS sd
    JOIN hours AS h ON h.day = sd.day
    LEFT JOIN LATERAL (
        SELECT sum(n) AS readings
        FROM (
            SELECT s.readings AS n
            FROM meter_hourly_stats AS s
            WHERE s.meter_id = sd.meter_id AND s.bucket = h.hour
            UNION ALL
            SELECT count(*)
            FROM energy_readings AS r
            WHERE r.meter_id = sd.meter_id
              AND h.hour >= time_bucket('1 hour', time_bucket(%(interval)s::interval, now()))
              AND r."timestamp" >= h.hour
              AND r."timestamp" < least(h.hour + INTERVAL '1 hour',
                                         time_bucket(%(interval)s::interval, now()))
        ) AS parts
    ) AS x ON true
    WHERE sd.readings > 0 AND coalesce(x.readings, 0) < h.expected
),
gaps AS (
    SELECT meter_id, feeder, hour, readings, expected FROM partial_hours
    UNION ALL
    SELECT sd.meter_id, sd.feeder, h.hour, 0, h.expected
    FROM short_days AS sd
    JOIN hours AS h ON h.day = sd.day
    WHERE sd.readings = 0
),
totals AS (
    -- Every gap of the window: the empty meter-days whole, the others hour by hour.
    SELECT
        coalesce((SELECT sum(hours) FROM short_days WHERE readings = 0), 0)
            + (SELECT count(*) FROM partial_hours)                              AS gap_hours,
        coalesce((SELECT sum(expected) FROM short_days WHERE readings = 0), 0)
            + coalesce((SELECT sum(expected - readings) FROM partial_hours), 0) AS missing_total
)
SELECT
    g.meter_id,
    g.feeder,
    g.hour AT TIME ZONE %(tz)s::text                    AS hour,
    g.readings,
    g.expected,
    g.expected - g.readings                             AS missing,
    t.gap_hours::int                                    AS gap_hours,
    t.missing_total::bigint                             AS missing_total
FROM gaps AS g
CROSS JOIN totals AS t
ORDER BY missing DESC, g.hour DESC, g.meter_id
LIMIT %(limit)s
