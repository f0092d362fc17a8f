-- Event detection, outage (the history and the live watcher alike): every meter-interval
-- in [lo, judged) without supply. A meter without supply either stops reporting (the
-- live stream: its reading is missing) or reports voltage 0 (the historic generator's
-- outage, a meter whose communications run on a backup supply); both count. A missing
-- interval counts once the meter has reported at all since %(seen)s (a meter never heard
-- from is not expected; the intervals before its first reading are not missed). The
-- sizes of transformers and feeders are counted among the meters heard from, so a
-- transformer is out when all of its reporting meters are.
--
-- A missing interval is found from the readings that did arrive, never by joining a grid
-- of every expected meter-interval against them (the planner of a freshly loaded table
-- chose a nested loop for that join: 36 s for 40 meters x 10 days): per meter, the
-- intervals between one reading and the next (or `judged`), and those from where the
-- meter is expected to its first reading in the window.
--
-- An interval in which no meter at all reported is not counted: the whole fleet silent
-- at once is the collection path down (the simulator, broker or ingestion stopped, the
-- platform restarted), not every feeder losing supply; an outage shows as some meters
-- silent (or at voltage 0) while others report.

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
), heard AS (
    SELECT meter_id, "timestamp", voltage,
           lead("timestamp", 1, %(judged)s::timestamptz)
               OVER (PARTITION BY meter_id ORDER BY "timestamp") AS next_ts
    FROM energy_readings
    WHERE "timestamp" >= %(lo)s AND "timestamp" < %(judged)s
), first_heard AS (
    SELECT meter_id, min("timestamp") AS first_ts
    FROM heard
    GROUP BY meter_id
), reporting AS (
    SELECT DISTINCT "timestamp"
    FROM heard
), out_slots AS (
    -- A reading without voltage.
    SELECT meter_id, "timestamp"
    FROM heard
    WHERE voltage = 0
    UNION ALL
    -- The intervals between a reading and the next one (or the judged end).
    SELECT h.meter_id, slot
    FROM heard AS h,
         generate_series(h."timestamp" + %(step)s::interval, h.next_ts - %(step)s::interval,
                         %(step)s::interval) AS slot
    WHERE h.next_ts > h."timestamp" + %(step)s::interval
    UNION ALL
    -- From where the meter is expected to its first reading in the window (all of the
    -- window for a meter heard before it but not in it).
    SELECT z.meter_id, slot
    FROM sizes AS z
    LEFT JOIN first_heard AS f USING (meter_id),
         generate_series(z.from_ts, coalesce(f.first_ts, %(judged)s::timestamptz)
                                    - %(step)s::interval, %(step)s::interval) AS slot
)
SELECT o."timestamp", o.meter_id, z.transformer, z.feeder,
       z.transformer_meters, z.feeder_meters
FROM out_slots AS o
JOIN sizes AS z USING (meter_id)
JOIN reporting AS r USING ("timestamp")
