-- Dashboard, Insights: energy exported to the grid per local day and customer class, by the
-- meters with rooftop PV, beside what the same meters imported, over the hourly buckets starting
-- in [start, end). [days_from, days_to) are whole UTC days that are also whole local days of tz
-- (the data layer finds them; none outside UTC-like zones): those come from meter_daily_stats,
-- the other hours from meter_hourly_stats, the same sums from a fraction of the rows. Summed in
-- the stored Wh, shown in kWh (/ 1000).
WITH s AS (
    SELECT d.meter_id, d.bucket, d.import_energy, d.export_energy
    FROM meter_daily_stats AS d
    WHERE d.bucket >= %(days_from)s AND d.bucket < %(days_to)s
    UNION ALL
    SELECT h.meter_id, h.bucket, h.import_energy, h.export_energy
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= %(start)s AND h.bucket < least(%(days_from)s, %(end)s)
    UNION ALL
    SELECT h.meter_id, h.bucket, h.import_energy, h.export_energy
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= greatest(%(days_to)s, %(start)s) AND h.bucket < %(end)s
)
SELECT
    (time_bucket('1 day', s.bucket, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date AS day,
    m.customer_class,
    sum(s.export_energy)::float8 / 1000                                            AS export_kwh,
    sum(s.import_energy)::float8 / 1000                                            AS import_kwh
FROM s
JOIN meters AS m ON m.meter_id = s.meter_id
WHERE m.has_solar
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY 1, 2
ORDER BY 1, 2
