-- VEE: the energy of some meters over [start, end) (Wh): the like days of the meters that have
-- something to estimate, so a day's VEE reads a week only for them.
SELECT "timestamp", meter_id, energy
FROM energy_readings
WHERE meter_id = ANY(%(meters)s::int4[]) AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
ORDER BY meter_id, "timestamp"
