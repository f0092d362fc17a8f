-- Dashboard: fleet energy per UTC day, raw rows, in kWh (stored Wh / 1000).
SELECT time_bucket('1 day', timestamp) AS day, SUM(energy)::float8 / 1000 AS kwh
FROM energy_readings
GROUP BY day ORDER BY day
