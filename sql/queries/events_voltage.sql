-- Event detection, voltage: EN 50160 judges supply voltage on 10-minute means. Per meter
-- and %(bucket)s bucket in [lo, hi), the mean voltage relative to nominal (readings
-- without supply, voltage 0, are an outage and left out), kept only outside the band
-- +-%(band)s; with the meter's transformer and how many meters it serves.
WITH sizes AS (
    SELECT meter_id, transformer, nominal_voltage,
           count(*) OVER (PARTITION BY transformer)::int AS transformer_meters
    FROM meters
), means AS (
    SELECT time_bucket(%(bucket)s::interval, e."timestamp") AS bucket, e.meter_id,
           avg(e.voltage)::float8 / 10.0 AS volts
    FROM energy_readings AS e
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s AND e.voltage > 0
    GROUP BY 1, 2
)
SELECT m.bucket, m.meter_id, s.transformer, s.transformer_meters,
       m.volts / s.nominal_voltage AS pu
FROM means AS m
JOIN sizes AS s USING (meter_id)
WHERE abs(m.volts / s.nominal_voltage - 1.0) > %(band)s
