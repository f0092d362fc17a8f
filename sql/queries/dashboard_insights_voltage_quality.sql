-- Dashboard, Insights: per feeder, the share of readings with voltage outside +-10 percent of the
-- meter's nominal voltage, and the voltage extremes relative to nominal (stored 0.1 V / 10 = V),
-- over the hourly buckets starting in [start, end). The window's whole UTC days
-- [days_from, days_to) come from meter_daily_stats, its other hours from meter_hourly_stats:
-- the same counts and extremes from a fraction of the rows. Counted per meter before meters is
-- joined (5,000 rows to join instead of 35,000 meter-days a week): a meter's nominal voltage is
-- one positive number, so its extremes relative to nominal are those of its extremes.
WITH s AS (
    SELECT d.meter_id, d.readings, d.voltage_out_of_band, d.min_voltage, d.max_voltage
    FROM meter_daily_stats AS d
    WHERE d.bucket >= %(days_from)s AND d.bucket < %(days_to)s
    UNION ALL
    SELECT h.meter_id, h.readings, h.voltage_out_of_band, h.min_voltage, h.max_voltage
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= %(start)s AND h.bucket < least(%(days_from)s, %(end)s)
    UNION ALL
    SELECT h.meter_id, h.readings, h.voltage_out_of_band, h.min_voltage, h.max_voltage
    FROM meter_hourly_stats AS h
    WHERE h.bucket >= greatest(%(days_to)s, %(start)s) AND h.bucket < %(end)s
),
per_meter AS (
    SELECT
        s.meter_id,
        sum(s.readings)            AS readings,
        sum(s.voltage_out_of_band) AS voltage_out_of_band,
        min(s.min_voltage)         AS min_voltage,
        max(s.max_voltage)         AS max_voltage
    FROM s
    GROUP BY s.meter_id
)
SELECT
    m.feeder,
    sum(p.readings)::bigint                                         AS readings,
    sum(p.voltage_out_of_band)::bigint                              AS out_of_band,
    (sum(p.voltage_out_of_band)::float8
        / nullif(sum(p.readings), 0)::float8)                       AS out_of_band_share,
    min(p.min_voltage::float8 / 10 / m.nominal_voltage)             AS min_voltage_pu,
    max(p.max_voltage::float8 / 10 / m.nominal_voltage)             AS max_voltage_pu
FROM per_meter AS p
JOIN meters AS m ON m.meter_id = p.meter_id
WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
GROUP BY m.feeder
ORDER BY m.feeder
