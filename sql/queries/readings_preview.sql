-- The first rows of a readings table in a window, for asset previews.
SELECT "timestamp", meter_id, power, energy, voltage, current
FROM {table}
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
ORDER BY "timestamp", meter_id
LIMIT 10
