-- Event detection, theft: each meter's hourly energy in Wh over [lo, hi), with its feeder,
-- class and whether it has solar (the groups whose days are compared with each other).
SELECT time_bucket(INTERVAL '1 hour', e."timestamp") AS hour, e.meter_id,
       m.feeder, m.customer_class, m.has_solar, sum(e.energy)::bigint AS energy
FROM energy_readings AS e
JOIN meters AS m USING (meter_id)
WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
GROUP BY 1, 2, 3, 4, 5
