-- Event detection, outage (the history and the live watcher alike): every meter-interval
-- in [lo, judged) without supply. A meter without supply either stops reporting (the
-- live stream: its reading is missing) or reports voltage 0 (the historic generator's
-- outage, a meter whose communications run on a backup supply); both count. A missing
-- interval counts once the meter has reported at all since %(seen)s (a meter never heard
-- from is not expected; the intervals before its first reading are not missed). The
-- sizes of transformers and feeders are counted among the meters heard from, so a
-- transformer is out when all of its reporting meters are.
WITH seen AS (
    SELECT meter_id, min("timestamp") AS first_ts
    FROM energy_readings
    WHERE "timestamp" >= %(seen)s AND "timestamp" < %(hi)s
    GROUP BY meter_id
), sizes AS (
    SELECT s.meter_id, greatest(s.first_ts, %(lo)s::timestamptz) AS from_ts,
           m.transformer, m.feeder,
           count(*) OVER (PARTITION BY m.transformer)::int AS transformer_meters,
           count(*) OVER (PARTITION BY m.feeder)::int      AS feeder_meters
    FROM seen AS s
    JOIN meters AS m USING (meter_id)
), expected AS (
    SELECT z.meter_id, slot AS "timestamp"
    FROM sizes AS z,
         generate_series(z.from_ts, %(judged)s::timestamptz - %(step)s::interval,
                         %(step)s::interval) AS slot
), heard AS (
    SELECT meter_id, "timestamp", voltage
    FROM energy_readings
    WHERE "timestamp" >= %(lo)s AND "timestamp" < %(judged)s
)
SELECT x."timestamp", x.meter_id, z.transformer, z.feeder,
       z.transformer_meters, z.feeder_meters
FROM expected AS x
JOIN sizes AS z USING (meter_id)
LEFT JOIN heard AS h USING (meter_id, "timestamp")
WHERE h.meter_id IS NULL OR h.voltage = 0
