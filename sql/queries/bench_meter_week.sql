-- Dashboard: one meter's trend over the last week, raw rows.
SELECT timestamp, power, energy, voltage
FROM energy_readings
WHERE meter_id = 1 AND timestamp >= NOW() - INTERVAL '7 days'
ORDER BY timestamp
