-- The first rows of a readings table in a window, for asset previews: the stored W, Wh,
-- 0.1 V and mA shown in kW, kWh, V and A, under the columns' names.
SELECT "timestamp", meter_id,
       power::float8 / 1000   AS power,
       energy::float8 / 1000  AS energy,
       voltage::float8 / 10   AS voltage,
       current::float8 / 1000 AS current
FROM {table}
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
ORDER BY "timestamp", meter_id
LIMIT 10
