-- Dashboard, Data quality: readings per meter and local day against the readings expected.
--
-- A reading is expected for every interval (the interval parameter) that has ended and lies
-- inside the data set: from its first reading (min over energy_readings) up to the last interval
-- boundary, time_bucket(interval, now()). So the running interval, the rest of today and the days
-- before the data set began expect nothing, and a complete data set reads 100 percent. Days that
-- expect nothing are left out (no row: the heatmap leaves them blank instead of painting them red).
-- Readings are counted over the same ended intervals: a reading the live simulator already sent
-- for the running interval does not count. Whole hours come from meter_hourly_stats, the ended
-- part of the current hour from the raw readings. [start_day, end_day) are local dates in tz.
WITH bounds AS (
    SELECT
        coalesce((SELECT min("timestamp") FROM energy_readings), now())   AS data_start,
        time_bucket(%(interval)s::interval, now())                        AS data_end,
        extract(epoch FROM %(interval)s::interval)                        AS step_s
),
days AS (
    SELECT
        d::date                                                                     AS day,
        greatest(d::date::timestamp AT TIME ZONE %(tz)s::text, b.data_start)         AS lo,
        least((d::date + 1)::timestamp AT TIME ZONE %(tz)s::text, b.data_end)        AS hi,
        b.step_s
    FROM generate_series(%(start_day)s::date, %(end_day)s::date - 1, INTERVAL '1 day') AS d
    CROSS JOIN bounds AS b
),
expected AS (
    -- interval starts t (multiples of the interval since the epoch) with lo <= t < hi
    SELECT
        day,
        (ceil(extract(epoch FROM hi) / step_s) - ceil(extract(epoch FROM lo) / step_s))::bigint
            AS expected
    FROM days
    WHERE hi > lo
),
fleet AS (
    SELECT m.meter_id
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
),
hourly AS (
    -- Bounds written out (not taken from `bounds`) so TimescaleDB can exclude chunks.
    -- Local days that are whole UTC days ([days_from, days_to) from the data layer: every
    -- day in UTC, none in zones whose midnight is not a UTC midnight) come from
    -- meter_daily_stats, up to the last UTC midnight before the hourly part ends (so a day
    -- still running is never read whole); the hours before and after them from
    -- meter_hourly_stats. The same counts from about a twentieth of the rows.
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
counts AS (
    SELECT
        h.meter_id,
        (time_bucket('1 day', h.bucket, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date AS day,
        sum(h.readings) AS readings
    FROM hourly AS h
    JOIN fleet AS f ON f.meter_id = h.meter_id
    GROUP BY 1, 2
)
SELECT
    -- One row per meter with its days as arrays (the data layer unnests them): the embedded
    -- engine's wire costs about as much per row as the query itself, and 5,000 meters x
    -- 7 days is 35,000 rows where 5,000 carry the same numbers.
    f.meter_id,
    array_agg(e.day ORDER BY e.day)                                         AS day,
    array_agg(coalesce(c.readings, 0)::bigint ORDER BY e.day)               AS readings,
    array_agg(e.expected ORDER BY e.day)                                    AS expected
FROM fleet AS f
CROSS JOIN expected AS e
LEFT JOIN counts AS c ON c.meter_id = f.meter_id AND c.day = e.day
GROUP BY f.meter_id
ORDER BY f.meter_id
