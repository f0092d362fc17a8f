-- Per-meter hourly statistics against a raw GROUP BY over the same window, in the
-- stored units (W, Wh, 0.1 V, mA): counts, sums and extremes are integers and
-- must be equal; the means are numeric (tolerance for the stored mean's digits).
WITH raw AS (
    SELECT meter_id, time_bucket('1 hour', "timestamp") AS bucket, count(*) AS readings,
           avg(power) AS avg_power, min(power) AS min_power, max(power) AS max_power,
           sum(energy) AS net_energy, sum(greatest(energy, 0)) AS import_energy,
           sum(greatest(-energy, 0)) AS export_energy, avg(voltage) AS avg_voltage,
           min(voltage) AS min_voltage, max(voltage) AS max_voltage, max(current) AS max_current
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN meter_hourly_stats AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR agg.readings <> raw.readings
   OR abs(agg.avg_power - raw.avg_power) > 1e-6 * greatest(1, abs(raw.avg_power))
   OR agg.min_power <> raw.min_power OR agg.max_power <> raw.max_power
   OR agg.net_energy <> raw.net_energy
   OR agg.import_energy <> raw.import_energy OR agg.export_energy <> raw.export_energy
   OR abs(agg.avg_voltage - raw.avg_voltage) > 1e-6 * greatest(1, abs(raw.avg_voltage))
   OR agg.min_voltage <> raw.min_voltage OR agg.max_voltage <> raw.max_voltage
   OR agg.max_current <> raw.max_current
