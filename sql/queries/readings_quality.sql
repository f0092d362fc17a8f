-- Data-quality summary of one readings table over a time window, in one scan.
-- {table} is an identifier composed with psycopg.sql; the window bounds are bound parameters.
-- Bounds are physical, per meter, compared in the stored units (power W, voltage 0.1 V,
-- current mA; the meters table is in kW and V): |power| within twice the larger of the
-- rated load and the solar peak, voltage between 0 and 1.2 x nominal, current >= 0.
-- No NaN/Infinity count: the readings are integers, which cannot hold either (the
-- payload parser quarantines non-finite numbers; the writer refuses values an integer
-- cannot hold).
SELECT
    count(*)                                                        AS rows,
    count(*) - count(DISTINCT (r.meter_id, r."timestamp"))          AS duplicates,
    count(*) FILTER (
        WHERE m.meter_id IS NULL
           OR abs(r.power) > 2 * greatest(m.rated_kw, m.solar_kwp) * 1000
           OR r.voltage < 0 OR r.voltage > 1.2 * m.nominal_voltage * 10
           OR r.current < 0)                                        AS out_of_bounds,
    count(DISTINCT r.meter_id)                                      AS meters_reporting,
    (SELECT count(*) FROM meters)                                   AS meters_in_fleet
FROM {table} AS r
LEFT JOIN meters AS m USING (meter_id)
WHERE r."timestamp" >= %(start)s AND r."timestamp" < %(end)s
