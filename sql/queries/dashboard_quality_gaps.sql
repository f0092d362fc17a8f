-- Dashboard, Data quality: meter-hours with fewer readings than expected (the per_hour parameter), worst
-- first. Hours with no reading at all are in the completeness heatmap (they have no row here).
SELECT
    s.meter_id,
    m.feeder,
    s.bucket AT TIME ZONE %(tz)s::text              AS hour,
    s.readings::int                                 AS readings,
    (%(per_hour)s::int - s.readings)::int           AS missing
FROM meter_hourly_stats AS s
JOIN meters AS m ON m.meter_id = s.meter_id
WHERE s.bucket >= %(start)s AND s.bucket < %(end)s
  AND s.readings < %(per_hour)s::int
  AND (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
  AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
ORDER BY missing DESC, s.bucket DESC, s.meter_id
LIMIT %(limit)s
