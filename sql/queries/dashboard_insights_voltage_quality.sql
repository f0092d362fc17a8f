-- Dashboard, Insights: per feeder, the share of readings with voltage outside +-10 percent of the
-- meter's nominal voltage, and the voltage extremes relative to nominal (stored 0.1 V / 10 = V).
SELECT
    m.feeder,
    sum(s.readings)::bigint                                         AS readings,
    sum(s.voltage_out_of_band)::bigint                              AS out_of_band,
    (sum(s.voltage_out_of_band)::float8
        / nullif(sum(s.readings), 0)::float8)                       AS out_of_band_share,
    min(s.min_voltage::float8 / 10 / m.nominal_voltage)             AS min_voltage_pu,
    max(s.max_voltage::float8 / 10 / m.nominal_voltage)             AS max_voltage_pu
FROM meter_hourly_stats AS s
JOIN meters AS m ON m.meter_id = s.meter_id
WHERE s.bucket >= %(start)s AND s.bucket < %(end)s
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
GROUP BY m.feeder
ORDER BY m.feeder
