-- Dashboard, Insights: the stored power quality (EN 50160 verdict, ANSI C84.1 band shares)
-- of every meter and week, with the meter's class and feeder, for the meters the sidebar's
-- class and feeder filters select (an empty list selects all). One row per meter and week:
-- 5,000 meters x a few weeks, computed by `grid-pipeline power-quality`, never the readings.
SELECT
    p.week,
    p.meter_id,
    m.customer_class,
    m.feeder,
    m.nominal_voltage,
    p.windows,
    p.windows_excluded,
    p.share_within_10pct,
    p.any_outside_limits,
    p.verdict,
    p.ansi_a,
    p.ansi_b_only,
    p.ansi_outside,
    p.computed_at
FROM power_quality_weekly AS p
JOIN meters AS m ON m.meter_id = p.meter_id
WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
ORDER BY p.week, p.meter_id
