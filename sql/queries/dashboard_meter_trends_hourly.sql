-- Dashboard, Meter trends: hourly statistics of the chosen meters, with the min/max bands.
-- The aggregate is in the stored units (W, Wh, 0.1 V, mA); shown in kW, kWh, V and A.
SELECT
    s.meter_id,
    s.bucket AT TIME ZONE %(tz)s::text      AS time,
    s.readings::int                         AS readings,
    s.avg_power::float8 / 1000              AS power_kw,
    s.min_power::float8 / 1000              AS min_power_kw,
    s.max_power::float8 / 1000              AS max_power_kw,
    s.net_energy::float8 / 1000             AS energy_kwh,
    s.import_energy::float8 / 1000          AS import_kwh,
    s.export_energy::float8 / 1000          AS export_kwh,
    s.avg_voltage::float8 / 10              AS voltage_v,
    s.min_voltage::float8 / 10              AS min_voltage_v,
    s.max_voltage::float8 / 10              AS max_voltage_v,
    s.max_current::float8 / 1000            AS max_current_a
FROM meter_hourly_stats AS s
WHERE s.meter_id = ANY(%(meters)s::int[])
  AND s.bucket >= %(start)s AND s.bucket < %(end)s
ORDER BY s.meter_id, s.bucket
