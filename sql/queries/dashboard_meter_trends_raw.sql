-- Dashboard, Meter trends: raw readings of the chosen meters, for short ranges, in kW, kWh, V
-- and A (stored W, Wh, 0.1 V, mA divided by their scale).
SELECT
    r.meter_id,
    r."timestamp" AT TIME ZONE %(tz)s::text AS time,
    r.power::float8 / 1000                  AS power_kw,
    r.energy::float8 / 1000                 AS energy_kwh,
    r.voltage::float8 / 10                  AS voltage_v,
    r.current::float8 / 1000                AS current_a
FROM energy_readings AS r
WHERE r.meter_id = ANY(%(meters)s::int[])
  AND r."timestamp" >= %(start)s AND r."timestamp" < %(end)s
ORDER BY r.meter_id, r."timestamp"
