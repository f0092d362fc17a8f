-- Dashboard, Insights: seed query 2 (peak 15-minute intervals this week) answered from the seed's
-- 15-minute aggregate: the mean of the meters' 15-minute means equals the seed's AVG(power) over
-- the raw rows when every meter reports equally often in the bucket. Same columns as the seed's.
SELECT bucket AS period, avg(avg_power)::float8 AS avg_power
FROM energy_readings_15min
WHERE bucket >= now() - INTERVAL '7 days'
GROUP BY period
ORDER BY avg_power DESC
LIMIT 10
