-- Event detection, theft: each feeder's balance per hour over [lo, hi): the energy at its
-- head, the energy its meters registered, and the magnitude of the metered flow (the sum
-- over intervals of |sum of its meters|, Wh), on which technical losses grow whichever
-- way power flows. Head minus meters, less the losses, is what the meters do not
-- account for; hourly, so that it can be set against one meter's hourly profile.
WITH metered AS (
    SELECT e."timestamp", m.feeder, sum(e.energy)::float8 AS metered
    FROM energy_readings AS e
    JOIN meters AS m USING (meter_id)
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
    GROUP BY 1, 2
)
SELECT time_bucket(INTERVAL '1 hour', h."timestamp") AS hour, h.feeder,
       sum(h.energy)::float8 AS head, sum(x.metered) AS metered,
       sum(abs(x.metered)) AS flow
FROM feeder_head_readings AS h
JOIN metered AS x USING ("timestamp", feeder)
WHERE h."timestamp" >= %(lo)s AND h."timestamp" < %(hi)s
GROUP BY 1, 2
