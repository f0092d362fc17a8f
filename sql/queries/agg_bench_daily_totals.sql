-- Dashboard: fleet energy per UTC day from the daily aggregate, in kWh (stored Wh / 1000),
-- as bench_daily_totals.sql answers it from the raw rows.
SELECT bucket AS day, SUM(total_energy)::float8 / 1000 AS kwh
FROM energy_readings_daily
GROUP BY day ORDER BY day
