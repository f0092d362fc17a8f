-- Dashboard, Meter trends: raw readings of the chosen meters, for short ranges.
SELECT
    r.meter_id,
    r."timestamp" AT TIME ZONE %(tz)s::text AS time,
    r.power::float8                         AS power_kw,
    r.energy::float8                        AS energy_kwh,
    r.voltage::float8                       AS voltage_v,
    r.current::float8                       AS current_a
FROM energy_readings AS r
WHERE r.meter_id = ANY(%(meters)s::int[])
  AND r."timestamp" >= %(start)s AND r."timestamp" < %(end)s
ORDER BY r.meter_id, r."timestamp"
