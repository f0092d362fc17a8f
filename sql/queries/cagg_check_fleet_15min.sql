-- The fleet 15-minute aggregate against a raw GROUP BY over the same window.
WITH raw AS (
    SELECT time_bucket('15 minutes', "timestamp") AS bucket, count(*) AS readings,
           avg(power) AS avg_power, max(power) AS max_power, sum(energy) AS total_energy
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN fleet_15min AS agg USING (bucket)
WHERE agg.bucket IS NULL
   OR agg.readings <> raw.readings
   OR abs(agg.avg_power - raw.avg_power) > 1e-6 * greatest(1, abs(raw.avg_power))
   OR abs(agg.max_power - raw.max_power) > 1e-6 * greatest(1, abs(raw.max_power))
   OR abs(agg.total_energy - raw.total_energy) > 1e-6 * greatest(1, abs(raw.total_energy))
