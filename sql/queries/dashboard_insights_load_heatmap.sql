-- Dashboard, Insights: mean fleet load by local weekday (1 = Monday) and hour of day: the fleet
-- total per hour first, then the mean over the weeks in the window. The fleet total per hour
-- is summed from segment_hourly_load (the hourly aggregate's avg_power already summed per
-- customer class and feeder, the sidebar's only filters): the same numeric sums as summing
-- energy_readings_hourly over the meters, from a few hundred rows a day instead of one per
-- meter-hour. Summed in the stored W, shown in kW (/ 1000).
--
-- segment_hourly_load has no transformer: with the transformer filter set (a few dozen meters
-- at most) the second branch sums energy_readings_hourly over the selected meters instead, the
-- same numbers the segments sum. Exactly one branch runs (the other's condition on the bound
-- parameter is false before any row is read).
WITH fleet_hourly AS (
    SELECT s.bucket, sum(s.sum_power) AS power_w
    FROM segment_hourly_load AS s
    WHERE cardinality(%(transformers)s::text[]) = 0
      AND s.bucket >= %(start)s AND s.bucket < %(end)s
      AND (cardinality(%(classes)s::text[]) = 0 OR s.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR s.feeder = ANY(%(feeders)s::text[]))
    GROUP BY s.bucket
    UNION ALL
    SELECT h.bucket, sum(h.avg_power) AS power_w
    FROM energy_readings_hourly AS h
    JOIN meters AS m ON m.meter_id = h.meter_id
    WHERE cardinality(%(transformers)s::text[]) > 0
      AND h.bucket >= %(start)s AND h.bucket < %(end)s
      AND m.transformer = ANY(%(transformers)s::text[])
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
