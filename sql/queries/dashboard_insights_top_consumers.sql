-- Dashboard, Insights: the meters that imported the most energy in the window. Summed in the
-- stored Wh, shown in kWh (/ 1000).
SELECT
    m.meter_id,
    m.customer_class,
    m.feeder,
    sum(s.import_energy)::float8 / 1000 AS import_kwh,
    sum(s.export_energy)::float8 / 1000 AS export_kwh,
    sum(s.net_energy)::float8 / 1000    AS net_kwh
FROM meter_hourly_stats AS s
JOIN meters AS m ON m.meter_id = s.meter_id
WHERE s.bucket >= %(start)s AND s.bucket < %(end)s
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY m.meter_id, m.customer_class, m.feeder
ORDER BY import_kwh DESC
LIMIT %(limit)s
