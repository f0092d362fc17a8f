-- Seed query 1 answered from the fleet 15-minute aggregate (exact: the mean of
-- all readings in the hour = summed power / readings). Like the seed's statement
-- it answers in the stored unit, W, as numeric: both divide the same integer sum
-- by the same count, so the two results are equal digit for digit.
SELECT time_bucket('1 hour', bucket) AS hour, SUM(sum_power) / SUM(readings) AS avg_power
FROM fleet_15min
WHERE bucket >= DATE_TRUNC('day', NOW())
GROUP BY hour ORDER BY hour
