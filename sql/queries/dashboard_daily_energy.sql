-- Dashboard, Daily energy: kWh per local day, customer class and feeder for local days
-- [start_day, end_day) of the tz parameter, counting only readings before the cut parameter
-- (exclusive). The page cuts this period at the end of the newest ended interval and the
-- previous period at the same local time of day, so a partial newest day is compared with the
-- same part of a day, not with a whole one.
--
-- Whole hours are summed from the hourly aggregate with days cut at local midnight (exact for
-- whole-hour UTC offsets; the daily aggregates' buckets are UTC days); the part of the hour
-- before the cut comes from the raw readings. Local days that are also whole UTC days
-- ([days_from, days_to), found by the data layer: in UTC every day before the cut's; in other
-- zones none) are read from meter_daily_stats instead of 24 hourly rows per meter: its
-- net_energy is the same sum of the readings' Wh. `complete` is true for a day that lies
-- wholly inside the data set: it began at or after the first reading and ended at or before
-- the cut. Energy is summed in the stored Wh (exact integers) and shown in kWh (/ 1000) as
-- float8.
WITH energy AS (
    SELECT d.meter_id, d.bucket AS t, d.net_energy AS wh
    FROM meter_daily_stats AS d
    WHERE d.bucket >= %(days_from)s AND d.bucket < %(days_to)s
    UNION ALL
    SELECT h.meter_id, h.bucket, h.total_energy
    FROM energy_readings_hourly AS h
    WHERE h.bucket >= (%(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
      AND h.bucket < least(%(days_from)s, time_bucket('1 hour', least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text, %(cut)s::timestamptz)))
    UNION ALL
    SELECT h.meter_id, h.bucket, h.total_energy
    FROM energy_readings_hourly AS h
    WHERE h.bucket >= greatest(%(days_to)s,
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
      AND h.bucket < time_bucket('1 hour', least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text, %(cut)s::timestamptz))
    UNION ALL
    SELECT r.meter_id, r."timestamp", r.energy
    FROM energy_readings AS r
    WHERE r."timestamp" >= greatest(
            %(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text,
            time_bucket('1 hour', least(
                %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text, %(cut)s::timestamptz)))
      AND r."timestamp" < least(
            %(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text, %(cut)s::timestamptz)
),
daily AS (
    SELECT
        (time_bucket('1 day', e.t, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date   AS day,
        m.customer_class,
        m.feeder,
        sum(e.wh)::float8 / 1000                                                    AS energy_kwh
    FROM energy AS e
    JOIN meters AS m ON m.meter_id = e.meter_id
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
    GROUP BY 1, 2, 3
)
SELECT
    d.day,
    d.customer_class,
    d.feeder,
    d.energy_kwh,
    (d.day::timestamp AT TIME ZONE %(tz)s::text)
        >= (SELECT min("timestamp") FROM energy_readings)
    AND ((d.day + 1)::timestamp AT TIME ZONE %(tz)s::text) <= %(cut)s::timestamptz   AS complete
FROM daily AS d
ORDER BY 1, 2, 3
