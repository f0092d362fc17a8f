-- Dashboard, Data quality: the meters with VEE flags in the window [start, end) on the
-- sidebar's selection (as in dashboard_vee_flags_by_rule.sql), most flagged first, with their
-- rules: the choices of the per-reading table's meter picker. At most `limit` meters.
WITH fleet AS (
    SELECT m.meter_id
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
),
per_rule AS (
    SELECT f.meter_id, f.rule, count(*) AS flags
    FROM reading_flags AS f
    JOIN fleet AS m ON m.meter_id = f.meter_id
    WHERE f."timestamp" >= %(start)s AND f."timestamp" < %(end)s
    GROUP BY f.meter_id, f.rule
)
SELECT
    meter_id,
    sum(flags)::bigint                                  AS flags,
    string_agg(rule, ', ' ORDER BY flags DESC, rule)    AS rules
FROM per_rule
GROUP BY meter_id
ORDER BY flags DESC, meter_id
LIMIT %(limit)s
