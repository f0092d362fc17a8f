-- Seed query 1 answered from the hourly aggregate: mean of the meters' hourly means.
SELECT bucket AS hour, AVG(avg_power) AS avg_power
FROM energy_readings_hourly
WHERE bucket >= DATE_TRUNC('day', NOW())
GROUP BY hour ORDER BY hour
