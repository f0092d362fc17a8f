-- Seed query 3: Monthly Consumption by Meter (verbatim from the seed description).
SELECT meter_id, DATE_TRUNC('month', timestamp) AS month, SUM(energy) AS total_energy
FROM energy_readings
GROUP BY meter_id, month
ORDER BY month, total_energy DESC;
