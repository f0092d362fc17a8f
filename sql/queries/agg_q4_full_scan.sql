-- Seed query 4 answered from the fleet 15-minute aggregate (exact: counts and
-- sums roll up; min and max of minima and maxima).
SELECT SUM(readings) AS count, SUM(sum_power) / SUM(readings) AS avg,
       MAX(max_power) AS max, MIN(min_power) AS min
FROM fleet_15min
