-- Dashboard: one meter's trend over the last week, raw rows, in kW, kWh and V
-- (stored W / 1000, Wh / 1000, 0.1 V / 10).
SELECT timestamp, power::float8 / 1000 AS power, energy::float8 / 1000 AS energy,
       voltage::float8 / 10 AS voltage
FROM energy_readings
WHERE meter_id = 1 AND timestamp >= NOW() - INTERVAL '7 days'
ORDER BY timestamp
