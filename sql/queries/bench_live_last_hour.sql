-- Dashboard: fleet load over the last hour (the live page's curve), raw rows.
SELECT time_bucket('5 minutes', timestamp) AS bucket, SUM(power) AS fleet_kw, COUNT(*) AS readings
FROM energy_readings
WHERE timestamp >= NOW() - INTERVAL '1 hour'
GROUP BY bucket ORDER BY bucket
