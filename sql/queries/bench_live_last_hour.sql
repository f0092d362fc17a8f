-- Dashboard: fleet load over the last hour (the live page's curve), raw rows, in kW
-- (stored W / 1000).
SELECT time_bucket('5 minutes', timestamp) AS bucket, SUM(power)::float8 / 1000 AS fleet_kw,
       COUNT(*) AS readings
FROM energy_readings
WHERE timestamp >= NOW() - INTERVAL '1 hour'
GROUP BY bucket ORDER BY bucket
