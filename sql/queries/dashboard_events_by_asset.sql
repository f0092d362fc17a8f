-- Dashboard, Events: how many events overlapping the window [start, end) concern each feeder
-- and each transformer (filters as in dashboard_events_list.sql). A meter's event counts for
-- its transformer and its feeder, a transformer's for itself and its feeder, a feeder's for the
-- feeder only (its transformer is NULL). The rows with transformer NULL and per_feeder true
-- are the feeders' totals; the others are the transformers'.
WITH located AS (
    SELECT
        e.asset_type,
        e.asset,
        e.severity,
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
    l.feeder,
    l.transformer,
    (GROUPING(l.transformer) = 1)                          AS per_feeder,
    count(*)::int                                          AS events,
    count(*) FILTER (WHERE l.severity = 'critical')::int   AS critical,
    count(*) FILTER (WHERE l.severity = 'warning')::int    AS warning,
    count(*) FILTER (WHERE l.severity = 'info')::int       AS info
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
GROUP BY GROUPING SETS ((l.feeder), (l.feeder, l.transformer))
ORDER BY events DESC, l.feeder, l.transformer
