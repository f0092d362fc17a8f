-- Dashboard: one meter's week from the per-meter hourly statistics, in kW, kWh and V
-- (stored W / 1000, Wh / 1000, 0.1 V / 10), the units of bench_meter_week.sql.
SELECT bucket,
       avg_power::float8 / 1000 AS avg_power,
       min_power::float8 / 1000 AS min_power,
       max_power::float8 / 1000 AS max_power,
       net_energy::float8 / 1000 AS net_energy,
       min_voltage::float8 / 10 AS min_voltage,
       max_voltage::float8 / 10 AS max_voltage
FROM meter_hourly_stats
WHERE meter_id = 1 AND bucket >= NOW() - INTERVAL '7 days'
ORDER BY bucket
