-- Event detection, outage: every reading in [lo, hi) with no voltage (a meter reads
-- voltage 0 only when its supply is off), with the meter's transformer and feeder and
-- how many meters each of them serves (to tell a whole transformer or feeder out).
WITH sizes AS (
    SELECT meter_id, transformer, feeder,
           count(*) OVER (PARTITION BY transformer)::int AS transformer_meters,
           count(*) OVER (PARTITION BY feeder)::int      AS feeder_meters
    FROM meters
)
SELECT e."timestamp", e.meter_id, s.transformer, s.feeder, s.transformer_meters, s.feeder_meters
FROM energy_readings AS e
JOIN sizes AS s USING (meter_id)
WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
  AND e.voltage = 0
