-- Dashboard, Insights: mean fleet load by local weekday (1 = Monday) and hour of day: the fleet
-- total per hour first (the sum of the meters' hourly mean power of energy_readings_hourly,
-- added up per class and feeder in fleet_hourly_by_group, so only the filtered groups are
-- summed here), then the mean over the weeks in the window. Summed in the stored W, shown in
-- kW (/ 1000).
WITH fleet_hourly AS (
    SELECT g.bucket, sum(g.sum_avg_power) AS power_w
    FROM fleet_hourly_by_group AS g
    WHERE g.bucket >= %(start)s AND g.bucket < %(end)s
      AND (cardinality(%(classes)s::text[]) = 0 OR g.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR g.feeder = ANY(%(feeders)s::text[]))
    GROUP BY g.bucket
)
SELECT
    extract(isodow FROM bucket AT TIME ZONE %(tz)s::text)::int AS weekday,
    extract(hour FROM bucket AT TIME ZONE %(tz)s::text)::int   AS hour,
    avg(power_w)::float8 / 1000                                AS power_kw
FROM fleet_hourly
GROUP BY 1, 2
ORDER BY 1, 2
