-- VEE: the readings of [start, end) that were received again with other values (rule
-- duplicate_conflict), per key: how many conflicting versions and the last one with the
-- stored values it contradicts (W, Wh, 0.1 V, mA).
SELECT DISTINCT ON (meter_id, "timestamp")
       "timestamp", meter_id,
       count(*) OVER (PARTITION BY meter_id, "timestamp") AS versions,
       power, energy, voltage, current, stored_power, stored_energy, stored_voltage,
       stored_current
FROM reading_conflicts
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND readings_table = 'energy_readings'
ORDER BY meter_id, "timestamp", received_at DESC
