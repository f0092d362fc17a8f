-- Dashboard, Data quality: VEE's flags per rule over the window [start, end), on the meters the
-- sidebar's filters select (class, feeder, transformer; empty = all): how many readings each
-- rule flagged, on how many meters, and how many of them VEE replaced with an estimate. The
-- rules are whatever reading_flags holds, so a rule added to VEE shows up without a change
-- here. One row per rule: the page never reads the flags themselves for this.
WITH fleet AS (
    SELECT m.meter_id
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
)
SELECT
    f.rule,
    count(*)::bigint                                    AS flags,
    count(DISTINCT f.meter_id)::int                     AS meters,
    count(e.meter_id)::bigint                           AS estimated
FROM reading_flags AS f
JOIN fleet AS m ON m.meter_id = f.meter_id
LEFT JOIN reading_estimates AS e
    ON e.meter_id = f.meter_id AND e."timestamp" = f."timestamp"
   AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s
WHERE f."timestamp" >= %(start)s AND f."timestamp" < %(end)s
GROUP BY f.rule
ORDER BY flags DESC, f.rule
