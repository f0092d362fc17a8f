-- Seed query 1 answered from the fleet 15-minute aggregate (exact: the mean of
-- all readings in the hour = summed power / readings).
SELECT time_bucket('1 hour', bucket) AS hour, SUM(sum_power) / SUM(readings) AS avg_power
FROM fleet_15min
WHERE bucket >= DATE_TRUNC('day', NOW())
GROUP BY hour ORDER BY hour
