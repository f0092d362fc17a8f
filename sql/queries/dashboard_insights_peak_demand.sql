-- Dashboard, Insights: each meter's peak demand, the highest 15-minute mean power in the window
-- (from the seed's 15-minute aggregate), and its share of the rated power. One grouped scan;
-- finding when each peak happened as well doubled the page's cost on the default data set.
-- The aggregate is in W; peak_kw is kW (/ 1000), like rated_kw.
SELECT
    m.meter_id,
    m.customer_class,
    m.feeder,
    max(q.avg_power)::float8 / 1000             AS peak_kw,
    max(q.avg_power)::float8 / 1000 / m.rated_kw AS peak_of_rated
FROM energy_readings_15min AS q
JOIN meters AS m ON m.meter_id = q.meter_id
WHERE q.bucket >= %(start)s AND q.bucket < %(end)s
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY m.meter_id, m.customer_class, m.feeder, m.rated_kw
ORDER BY m.meter_id
