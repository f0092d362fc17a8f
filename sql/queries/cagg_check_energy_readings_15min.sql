-- Rows of the seed's 15-minute aggregate that differ from a raw GROUP BY over
-- the same window, plus raw buckets the aggregate lacks. Both sides are in the
-- stored units (W, Wh): max and total_energy are integers and must be equal;
-- avg_power is numeric (tolerance for the stored mean's digits).
WITH raw AS (
    SELECT meter_id, time_bucket('15 minutes', "timestamp") AS bucket,
           avg(power) AS avg_power, max(power) AS max_power, sum(energy) AS total_energy
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN energy_readings_15min AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR abs(agg.avg_power - raw.avg_power) > 1e-6 * greatest(1, abs(raw.avg_power))
   OR agg.max_power <> raw.max_power
   OR agg.total_energy <> raw.total_energy
