-- Seed query 2: Peak 15-Minute Intervals This Week (verbatim from the seed description).
SELECT time_bucket('15 minutes', timestamp) AS period, AVG(power) as avg_power
FROM energy_readings
WHERE timestamp >= NOW() - INTERVAL '7 days'
GROUP BY period ORDER BY avg_power DESC LIMIT 10;
