-- Per-meter hourly statistics against a raw GROUP BY over the same window.
WITH raw AS (
    SELECT meter_id, time_bucket('1 hour', "timestamp") AS bucket, count(*) AS readings,
           min(power) AS min_power, max(power) AS max_power, sum(energy) AS net_energy,
           min(voltage) AS min_voltage, max(voltage) AS max_voltage
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN meter_hourly_stats AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR agg.readings <> raw.readings
   OR abs(agg.min_power - raw.min_power) > 1e-6 * greatest(1, abs(raw.min_power))
   OR abs(agg.max_power - raw.max_power) > 1e-6 * greatest(1, abs(raw.max_power))
   OR abs(agg.net_energy - raw.net_energy) > 1e-6 * greatest(1, abs(raw.net_energy))
   OR agg.min_voltage <> raw.min_voltage OR agg.max_voltage <> raw.max_voltage
