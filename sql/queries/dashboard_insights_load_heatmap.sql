-- Dashboard, Insights: mean fleet load by local weekday (1 = Monday) and hour of day, from the
-- hourly aggregate: the fleet total per hour first, then the mean over the weeks in the window.
-- Summed in the stored W, shown in kW (/ 1000).
WITH fleet_hourly AS (
    SELECT h.bucket, sum(h.avg_power) AS power_w
    FROM energy_readings_hourly AS h
    JOIN meters AS m ON m.meter_id = h.meter_id
    WHERE h.bucket >= %(start)s AND h.bucket < %(end)s
      AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
    GROUP BY h.bucket
)
SELECT
    extract(isodow FROM bucket AT TIME ZONE %(tz)s::text)::int AS weekday,
    extract(hour FROM bucket AT TIME ZONE %(tz)s::text)::int   AS hour,
    avg(power_w)::float8 / 1000                                AS power_kw
FROM fleet_hourly
GROUP BY 1, 2
ORDER BY 1, 2
