-- Seed query 2 answered from the fleet 15-minute aggregate (same buckets, exact:
-- avg_power is AVG(power) over the bucket's readings, in W like the seed's).
SELECT bucket AS period, avg_power
FROM fleet_15min
WHERE bucket >= NOW() - INTERVAL '7 days'
ORDER BY avg_power DESC LIMIT 10
