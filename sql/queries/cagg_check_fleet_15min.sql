-- The fleet 15-minute aggregate against a raw GROUP BY over the same window, in
-- the stored units (W, Wh): counts, sums and extremes are integers and must be
-- equal; avg_power is numeric (tolerance for the stored mean's digits).
WITH raw AS (
    SELECT time_bucket('15 minutes', "timestamp") AS bucket, count(*) AS readings,
           sum(power) AS sum_power, avg(power) AS avg_power, min(power) AS min_power,
           max(power) AS max_power, sum(energy) AS total_energy
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN fleet_15min AS agg USING (bucket)
WHERE agg.bucket IS NULL
   OR agg.readings <> raw.readings
   OR agg.sum_power <> raw.sum_power
   OR abs(agg.avg_power - raw.avg_power) > 1e-6 * greatest(1, abs(raw.avg_power))
   OR agg.min_power <> raw.min_power
   OR agg.max_power <> raw.max_power
   OR agg.total_energy <> raw.total_energy
