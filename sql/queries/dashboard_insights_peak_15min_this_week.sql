-- Dashboard, Insights: seed query 2 (peak 15-minute intervals this week) answered from the
-- fleet-wide 15-minute aggregate: one row per bucket, avg_power = AVG(power) over every
-- reading in the bucket, exactly the seed's value. Same columns as the seed's; avg_power in kW
-- (the seed's W / 1000).
SELECT bucket AS period, avg_power::float8 / 1000 AS avg_power
FROM fleet_15min
WHERE bucket >= now() - INTERVAL '7 days'
ORDER BY avg_power DESC
LIMIT 10
