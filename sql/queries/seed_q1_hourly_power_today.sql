-- Seed query 1: Hourly Power Today (verbatim from the seed description).
SELECT time_bucket('1 hour', timestamp) AS hour, AVG(power) as avg_power
FROM energy_readings
WHERE timestamp >= DATE_TRUNC('day', NOW())
GROUP BY hour ORDER BY hour;
