-- Dashboard: one meter's week from the per-meter hourly statistics.
SELECT bucket, avg_power, min_power, max_power, net_energy, min_voltage, max_voltage
FROM meter_hourly_stats
WHERE meter_id = 1 AND bucket >= NOW() - INTERVAL '7 days'
ORDER BY bucket
