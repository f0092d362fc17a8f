-- Seed query 4 answered from the per-meter hourly statistics (exact: the count
-- and the weighted mean come from per-bucket counts).
SELECT SUM(readings) AS count, SUM(avg_power * readings) / SUM(readings) AS avg,
       MAX(max_power) AS max, MIN(min_power) AS min
FROM meter_hourly_stats
