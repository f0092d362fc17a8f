-- Dashboard, Insights: seed query 3 (monthly consumption by meter) answered from the daily
-- aggregate: its buckets are UTC days, so summing them per UTC month gives the seed's result.
-- total_energy in kWh (the seed's Wh / 1000).
--
-- One row per month with its meters as arrays, in the seed's order (total_energy descending;
-- ties by meter_id, which the seed leaves free): the data layer unnests them into the seed's
-- columns and rows. The embedded engine's wire costs about as much per row as the query, and
-- 5,000 meters are 5,000 rows a month where one carries the same numbers.
WITH per_meter AS (
    SELECT meter_id, date_trunc('month', bucket) AS month, sum(total_energy)::float8 / 1000 AS total_energy
    FROM energy_readings_daily
    GROUP BY meter_id, month
)
SELECT
    month,
    array_agg(meter_id ORDER BY total_energy DESC, meter_id)     AS meter_id,
    array_agg(total_energy ORDER BY total_energy DESC, meter_id) AS total_energy
FROM per_meter
GROUP BY month
ORDER BY month
