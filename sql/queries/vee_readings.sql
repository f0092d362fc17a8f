-- VEE: the stored readings of [start, end) (W, Wh, 0.1 V, mA), the window to validate plus the
-- context its rules and estimates read (an hour before for sustained rules, like days before).
SELECT "timestamp", meter_id, power, energy, voltage, current
FROM energy_readings
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
ORDER BY meter_id, "timestamp"
