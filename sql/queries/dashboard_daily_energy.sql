-- Dashboard, Daily energy: kWh per local day, customer class and feeder, summed from the hourly
-- aggregate with days cut at local midnight of the tz parameter (exact for whole-hour UTC offsets; the
-- daily aggregate's buckets are UTC days). [start_day, end_day) are local dates.
SELECT
    (time_bucket('1 day', h.bucket, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date  AS day,
    m.customer_class,
    m.feeder,
    sum(h.total_energy)::float8                                                     AS energy_kwh
FROM energy_readings_hourly AS h
JOIN meters AS m ON m.meter_id = h.meter_id
WHERE h.bucket >= (%(start_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
  AND h.bucket < (%(end_day)s::date::timestamp AT TIME ZONE %(tz)s::text)
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
