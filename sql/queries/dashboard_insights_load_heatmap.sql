-- Dashboard, Insights: mean fleet load by local weekday (1 = Monday) and hour of day: the fleet
-- total per hour first, then the mean over the weeks in the window. The fleet total per hour
-- is summed from segment_hourly_load (the hourly aggregate's avg_power already summed per
-- customer class and feeder, the sidebar's only filters): the same numeric sums as summing
-- energy_readings_hourly over the meters, from a few hundred rows a day instead of one per
-- meter-hour. Summed in the stored W, shown in kW (/ 1000).
WITH fleet_hourly AS (
    SELECT s.bucket, sum(s.sum_power) AS power_w
    FROM segment_hourly_load AS s
    WHERE s.bucket >= %(start)s AND s.bucket < %(end)s
      AND (cardinality(%(classes)s::text[]) = 0 OR s.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR s.feeder = ANY(%(feeders)s::text[]))
    GROUP BY s.bucket
)
SELECT
    extract(isodow FROM bucket AT TIME ZONE %(tz)s::text)::int AS weekday,
    extract(hour FROM bucket AT TIME ZONE %(tz)s::text)::int   AS hour,
    avg(power_w)::float8 / 1000                                AS power_kw
FROM fleet_hourly
GROUP BY 1, 2
ORDER BY 1, 2
