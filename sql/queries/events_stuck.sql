-- Event detection, stuck registers: the readings in [lo, hi) of every meter that has at
-- least one %(probe)s bucket whose readings are all identical (power, energy, voltage,
-- current) with non-zero power. Any stuck run of at least twice the probe contains a
-- whole bucket, so no stuck meter is missed; only these few meters' rows are returned,
-- for the exact run test.
WITH candidates AS (
    SELECT DISTINCT e.meter_id
    FROM energy_readings AS e
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
    GROUP BY e.meter_id, time_bucket(%(probe)s::interval, e."timestamp")
    HAVING count(*) >= 2
       AND min(e.power) = max(e.power) AND min(e.power) <> 0
       AND min(e.voltage) = max(e.voltage)
       AND min(e.energy) = max(e.energy)
       AND min(e.current) = max(e.current)
)
SELECT e."timestamp", e.meter_id, e.power, e.energy, e.voltage, e.current
FROM energy_readings AS e
JOIN candidates USING (meter_id)
WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
