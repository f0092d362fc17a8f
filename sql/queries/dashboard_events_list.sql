-- Dashboard, Events: the events overlapping the window [start, end), newest first, on the
-- assets the sidebar's filters select (feeder, transformer and class by the asset, as in
-- dashboard_events_severity.sql) and of the chosen kinds and severities (empty = all). Each row
-- carries its asset's transformer and feeder, its times in the zone tz, how long it lasted
-- (an open event: up to `until`, the end of the data), and its evidence as JSON text.
-- `matching` counts every matching event, also those past the limit.
WITH located AS (
    SELECT
        e.*,
        CASE e.asset_type
            WHEN 'meter' THEN m.transformer
            WHEN 'transformer' THEN e.asset
        END AS transformer,
        CASE e.asset_type
            WHEN 'meter' THEN m.feeder
            WHEN 'transformer' THEN t.feeder
            ELSE e.asset
        END AS feeder
    FROM grid_events AS e
    LEFT JOIN meters AS m ON e.asset_type = 'meter' AND m.meter_id::text = e.asset
    LEFT JOIN transformers AS t ON e.asset_type = 'transformer' AND t.transformer = e.asset
    WHERE e.start_ts < %(end)s AND (e.end_ts IS NULL OR e.end_ts > %(start)s)
      AND (cardinality(%(kinds)s::text[]) = 0 OR e.kind = ANY(%(kinds)s::text[]))
      AND (cardinality(%(severities)s::text[]) = 0 OR e.severity = ANY(%(severities)s::text[]))
)
SELECT
    l.event_id,
    l.kind,
    l.asset_type,
    l.asset,
    l.transformer,
    l.feeder,
    l.start_ts AT TIME ZONE %(tz)s::text                            AS start_local,
    l.end_ts AT TIME ZONE %(tz)s::text                              AS end_local,
    greatest(coalesce(l.end_ts, %(until)s::timestamptz) - l.start_ts, INTERVAL '0') AS duration,
    l.severity,
    l.evidence::text                                                AS evidence,
    l.detector,
    l.acknowledged_at AT TIME ZONE %(tz)s::text                     AS acknowledged_local,
    l.acknowledged_by,
    count(*) OVER ()::int                                           AS matching
FROM located AS l
WHERE (cardinality(%(feeders)s::text[]) = 0 OR l.feeder = ANY(%(feeders)s::text[]))
  AND (cardinality(%(transformers)s::text[]) = 0 OR l.transformer = ANY(%(transformers)s::text[]))
  AND (cardinality(%(classes)s::text[]) = 0 OR EXISTS (
        SELECT 1
        FROM meters AS c
        WHERE c.customer_class = ANY(%(classes)s::text[])
          AND CASE l.asset_type
                WHEN 'meter' THEN c.meter_id::text = l.asset
                WHEN 'transformer' THEN c.transformer = l.asset
                ELSE c.feeder = l.asset
              END
  ))
ORDER BY l.start_ts DESC, l.event_id DESC
LIMIT %(limit)s
