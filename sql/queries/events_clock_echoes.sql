-- Event detection, clock drift: echoes in [lo, hi), a non-zero reading (power, energy,
-- voltage, current) that occurs exactly twice for a meter at most %(max_lag)s apart, and
-- whose power no other reading of the meter has within %(max_lag)s of the two (constant
-- power is a stuck register or a clipped overload, not a clock). Few rows: the echoes.
WITH pairs AS (
    SELECT meter_id, power, min("timestamp") AS first_ts, max("timestamp") AS second_ts
    FROM energy_readings
    WHERE "timestamp" >= %(lo)s AND "timestamp" < %(hi)s AND power <> 0
    GROUP BY meter_id, power, energy, voltage, current
    HAVING count(*) = 2 AND max("timestamp") - min("timestamp") <= %(max_lag)s::interval
)
SELECT p.meter_id, p.first_ts, p.second_ts
FROM pairs AS p
WHERE (SELECT count(*)
       FROM energy_readings AS e
       WHERE e.meter_id = p.meter_id AND e.power = p.power
         AND e."timestamp" >= p.first_ts - %(max_lag)s::interval
         AND e."timestamp" <= p.second_ts + %(max_lag)s::interval) = 2
ORDER BY p.meter_id, p.second_ts
