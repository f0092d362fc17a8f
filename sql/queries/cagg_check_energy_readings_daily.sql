-- The daily aggregate against raw rows (window aligned to UTC days by the
-- caller), in the stored units (W, Wh): max and total_energy are integers and
-- must be equal; avg_power is a mean of means (numeric, compared with a tolerance).
WITH q AS (
    SELECT meter_id, time_bucket('15 minutes', "timestamp") AS q_bucket,
           avg(power) AS avg_power, max(power) AS max_power, sum(energy) AS total_energy
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
), h AS (
    SELECT meter_id, time_bucket('1 hour', q_bucket) AS h_bucket, avg(avg_power) AS avg_power,
           max(max_power) AS max_power, sum(total_energy) AS total_energy
    FROM q GROUP BY 1, 2
), raw AS (
    SELECT meter_id, time_bucket('1 day', h_bucket) AS bucket, avg(avg_power) AS avg_power,
           max(max_power) AS max_power, sum(total_energy) AS total_energy
    FROM h GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN energy_readings_daily AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR abs(agg.avg_power - raw.avg_power) > 1e-6 * greatest(1, abs(raw.avg_power))
   OR agg.max_power <> raw.max_power
   OR agg.total_energy <> raw.total_energy
