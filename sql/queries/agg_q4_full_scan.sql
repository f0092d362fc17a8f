-- Seed query 4 answered from the fleet 15-minute aggregate (exact: counts and
-- sums roll up; min and max of minima and maxima). In W and with the seed's
-- types: bigint count, numeric mean, integer extremes.
SELECT SUM(readings)::bigint AS count, SUM(sum_power) / SUM(readings) AS avg,
       MAX(max_power) AS max, MIN(min_power) AS min
FROM fleet_15min
