-- Seed query 3 answered from the daily aggregate (UTC days roll up into UTC months).
-- Wh, an exact integer sum, and bigint like the seed's SUM(energy).
SELECT meter_id, DATE_TRUNC('month', bucket) AS month, SUM(total_energy)::bigint AS total_energy
FROM energy_readings_daily
GROUP BY meter_id, month
ORDER BY month, total_energy DESC
