-- Dashboard, Insights: energy exported to the grid per local day and customer class, by the
-- meters with rooftop PV, beside what the same meters imported. Summed in the stored Wh, shown
-- in kWh (/ 1000).
SELECT
    (time_bucket('1 day', s.bucket, %(tz)s::text) AT TIME ZONE %(tz)s::text)::date AS day,
    m.customer_class,
    sum(s.export_energy)::float8 / 1000                                            AS export_kwh,
    sum(s.import_energy)::float8 / 1000                                            AS import_kwh
FROM meter_hourly_stats AS s
JOIN meters AS m ON m.meter_id = s.meter_id
WHERE m.has_solar
  AND s.bucket >= %(start)s AND s.bucket < %(end)s
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY 1, 2
ORDER BY 1, 2
