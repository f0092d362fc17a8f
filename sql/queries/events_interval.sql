-- Event detection: the reading interval, measured as the step from the window's first
-- reading to the next reading of the same meter (both found through the time index).
WITH first_row AS (
    SELECT meter_id, "timestamp" FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    ORDER BY "timestamp" LIMIT 1
)
SELECT (
    SELECT e."timestamp" FROM energy_readings AS e
    WHERE e.meter_id = f.meter_id AND e."timestamp" > f."timestamp"
      AND e."timestamp" < f."timestamp" + INTERVAL '1 day'
    ORDER BY e."timestamp" LIMIT 1
) - f."timestamp"
FROM first_row AS f
