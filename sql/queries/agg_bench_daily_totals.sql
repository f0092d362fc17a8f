-- Dashboard: fleet energy per UTC day from the daily aggregate.
SELECT bucket AS day, SUM(total_energy) AS kwh
FROM energy_readings_daily
GROUP BY day ORDER BY day
