-- Dashboard, Live: total fleet power per reading timestamp over the hour up to the newest reading.
-- The window is anchored at the newest reading (not now()) so a fleet that stopped reporting
-- still shows its last hour; the page says how old that hour is. Summed in W, shown in kW.
SELECT
    r."timestamp" AT TIME ZONE %(tz)s::text     AS time,
    sum(r.power)::float8 / 1000                 AS power_kw,
    count(*)::int                               AS meters_reporting
FROM energy_readings AS r
JOIN meters AS m ON m.meter_id = r.meter_id
-- A scalar subquery lets TimescaleDB exclude chunks at run time (a join does not).
WHERE r."timestamp" > (SELECT max("timestamp") FROM energy_readings) - INTERVAL '1 hour'
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
GROUP BY r."timestamp"
ORDER BY r."timestamp"
