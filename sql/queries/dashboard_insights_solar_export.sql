-- Dashboard, Insights: energy exported to the grid per local day and customer class, by the
-- meters with rooftop PV, beside what the same meters imported, over the hourly buckets starting
-- in [start, end). [days_from, days_to) are whole UTC days that are also whole local days of tz
-- (the data layer finds them; none outside UTC-like zones): those come from meter_daily_stats,
-- the other hours from meter_hourly_stats, the same sums from a fraction of the rows. Summed in
-- the stored Wh, shown in kWh (/ 1000). The PV meters the filters select are found first (pv) and
-- hash-joined: looking each of a week's 35,000 meter-days up in meters cost more than the sums.
WITH pv AS MATERIALIZED (
    SELECT m.meter_id, m.customer_class
    FROM meters AS m
    WHERE m.has_solar
      AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
),
s AS (
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
    pv.customer_class,
    sum(s.export_energy)::float8 / 1000                                            AS export_kwh,
    sum(s.import_energy)::float8 / 1000                                            AS import_kwh
FROM s
JOIN pv ON pv.meter_id = s.meter_id
GROUP BY 1, 2
ORDER BY 1, 2
