-- Seed query 2 answered from the seed's own 15-minute aggregate.
SELECT bucket AS period, AVG(avg_power) AS avg_power
FROM energy_readings_15min
WHERE bucket >= NOW() - INTERVAL '7 days'
GROUP BY period ORDER BY avg_power DESC LIMIT 10
