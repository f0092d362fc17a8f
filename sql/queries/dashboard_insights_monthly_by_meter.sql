-- Dashboard, Insights: seed query 3 (monthly consumption by meter) answered from the daily
-- aggregate: its buckets are UTC days, so summing them per UTC month gives the seed's result.
-- Same columns and order as the seed's statement; total_energy in kWh (the seed's Wh / 1000).
SELECT meter_id, date_trunc('month', bucket) AS month, sum(total_energy)::float8 / 1000 AS total_energy
FROM energy_readings_daily
GROUP BY meter_id, month
ORDER BY month, total_energy DESC
