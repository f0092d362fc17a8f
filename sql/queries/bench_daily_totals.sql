-- Dashboard: fleet energy per UTC day, raw rows.
SELECT time_bucket('1 day', timestamp) AS day, SUM(energy) AS kwh
FROM energy_readings
GROUP BY day ORDER BY day
