-- The load per customer class, feeder and hour (migration 014) against the raw readings over
-- the same window (aligned to whole hours by the caller), computed the way its hierarchy does:
-- each meter's mean power per 15 minutes, their mean per hour, summed over the meters of each
-- class and feeder. In the stored W; the meter counts must be equal, the sums of means
-- (numeric) within a tolerance for the stored means' digits.
WITH quarter AS (
    SELECT meter_id, time_bucket('15 minutes', "timestamp") AS bucket, avg(power) AS avg_power
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
),
hourly AS (
    SELECT meter_id, time_bucket('1 hour', bucket) AS bucket, avg(avg_power) AS avg_power
    FROM quarter
    GROUP BY 1, 2
),
raw AS (
    SELECT m.customer_class, m.feeder, h.bucket, sum(h.avg_power) AS sum_power,
           count(*) AS meters
    FROM hourly AS h
    JOIN meters AS m ON m.meter_id = h.meter_id
    GROUP BY 1, 2, 3
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN segment_hourly_load AS agg USING (customer_class, feeder, bucket)
WHERE agg.bucket IS NULL
   OR agg.meters <> raw.meters
   OR abs(agg.sum_power - raw.sum_power) > 1e-6 * greatest(1, abs(raw.sum_power))
