-- Dashboard, Insights: the meters that imported the most energy in the window (hourly buckets
-- starting in [start, end)). The window's whole UTC days [days_from, days_to) come from
-- meter_daily_stats, its other hours from meter_hourly_stats: the same sums from a fraction of
-- the rows (days_from = days_to = start when there is no whole day). Summed in the stored Wh,
-- shown in kWh (/ 1000). Summed per meter before meters is joined: joining each of the window's
-- 35,000 meter-days (5,000 meters x 7 days) to meters cost more than the sums on the embedded
-- engine; 5,000 meters are joined instead.
WITH s AS (
    SELECT d.meter_id, d.import_energy, d.export_energy, d.net_energy
    FROM meter_daily_stats AS d
    WHERE d.bucket >= %(days_from)s AND d.bucket < %(days_to)s
    UNION ALL
    SELECT h.meter_id, h.import_energy, h.export_energy, h.net_energy
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= %(start)s AND h.bucket < least(%(days_from)s, %(end)s)
    UNION ALL
    SELECT h.meter_id, h.import_energy, h.export_energy, h.net_energy
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= greatest(%(days_to)s, %(start)s) AND h.bucket < %(end)s
),
per_meter AS (
    SELECT s.meter_id, sum(s.import_energy) AS import_energy, sum(s.export_energy) AS export_energy,
           sum(s.net_energy) AS net_energy
    FROM s
    GROUP BY s.meter_id
)
SELECT
    m.meter_id,
    m.customer_class,
    m.feeder,
    p.import_energy::float8 / 1000 AS import_kwh,
    p.export_energy::float8 / 1000 AS export_kwh,
    p.net_energy::float8 / 1000    AS net_kwh
FROM per_meter AS p
JOIN meters AS m ON m.meter_id = p.meter_id
WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
ORDER BY import_kwh DESC
LIMIT %(limit)s
