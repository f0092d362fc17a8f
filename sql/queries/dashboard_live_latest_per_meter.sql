-- Dashboard, Live: every meter of the (filtered) fleet with its newest reading of the last hour
-- and a status: 'no data' (nothing in the hour), 'stale' (older than the stale_after parameter behind the
-- fleet's newest reading), 'voltage out of band' (outside +-10 percent of nominal), 'exporting'
-- (net power below zero) or 'ok'. Stored W, 0.1 V and mA are shown as kW, V and A.
WITH latest AS (SELECT max("timestamp") AS t FROM energy_readings),
newest AS (
    SELECT DISTINCT ON (r.meter_id)
        r.meter_id, r."timestamp", r.power, r.energy, r.voltage, r.current
    FROM energy_readings AS r
    -- A scalar subquery, not a join with `latest`: TimescaleDB then excludes
    -- chunks at run time (measured 20 ms vs 390 ms on 2 M compressed rows).
    WHERE r."timestamp" > (SELECT max("timestamp") FROM energy_readings) - INTERVAL '1 hour'
    ORDER BY r.meter_id, r."timestamp" DESC
)
SELECT
    m.meter_id,
    m.customer_class,
    m.feeder,
    m.has_solar,
    n."timestamp" AT TIME ZONE %(tz)s::text      AS last_reading,
    n.power::float8 / 1000                       AS power_kw,
    n.voltage::float8 / 10                       AS voltage_v,
    n.current::float8 / 1000                     AS current_a,
    m.rated_kw::float8                           AS rated_kw,
    CASE
        WHEN n.meter_id IS NULL THEN 'no data'
        WHEN n."timestamp" < latest.t - %(stale_after)s::interval THEN 'stale'
        WHEN abs(n.voltage / 10.0 - m.nominal_voltage) > 0.1 * m.nominal_voltage
            THEN 'voltage out of band'
        WHEN n.power < 0 THEN 'exporting'
        ELSE 'ok'
    END                                          AS status
FROM meters AS m
CROSS JOIN latest
LEFT JOIN newest AS n ON n.meter_id = m.meter_id
WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
ORDER BY m.meter_id
