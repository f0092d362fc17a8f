-- Per-meter daily statistics (migration 010) against raw rows (window aligned to UTC days by
-- the caller), in the stored units (Wh, 0.1 V): counts, sums and extremes are integers and
-- must be equal.
WITH raw AS (
    SELECT r.meter_id, time_bucket('1 day', r."timestamp") AS bucket, count(*) AS readings,
           sum(r.energy) AS net_energy, sum(greatest(r.energy, 0)) AS import_energy,
           sum(greatest(-r.energy, 0)) AS export_energy,
           count(*) FILTER (
               WHERE abs(r.voltage / 10.0 - m.nominal_voltage) > 0.1 * m.nominal_voltage
           ) AS voltage_out_of_band,
           min(r.voltage) AS min_voltage, max(r.voltage) AS max_voltage
    FROM energy_readings AS r
    JOIN meters AS m ON m.meter_id = r.meter_id
    WHERE r."timestamp" >= %(start)s AND r."timestamp" < %(end)s
    GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN meter_daily_stats AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR agg.readings <> raw.readings
   OR agg.net_energy <> raw.net_energy
   OR agg.import_energy <> raw.import_energy OR agg.export_energy <> raw.export_energy
   OR agg.voltage_out_of_band <> raw.voltage_out_of_band
   OR agg.min_voltage <> raw.min_voltage OR agg.max_voltage <> raw.max_voltage
