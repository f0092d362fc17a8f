-- Event detection, theft: each meter's hourly energy in Wh over [lo, hi), with its feeder,
-- class and whether it has solar (the groups whose days are compared with each other).
-- One row per meter with its hours (epoch seconds) and energies as arrays: a row per hour
-- would cost the wire more than the query (about 170,000 rows for 500 meters).
WITH hourly AS (
    SELECT time_bucket(INTERVAL '1 hour', e."timestamp") AS hour, e.meter_id,
           sum(e.energy)::bigint AS energy
    FROM energy_readings AS e
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
    GROUP BY 1, 2
)
SELECT h.meter_id, m.feeder, m.customer_class, m.has_solar,
       array_agg(extract(epoch FROM h.hour)::bigint ORDER BY h.hour) AS hours,
       array_agg(h.energy ORDER BY h.hour) AS energy
FROM hourly AS h
JOIN meters AS m USING (meter_id)
GROUP BY 1, 2, 3, 4
