-- Dashboard, Events: per severity, the events still open (end_ts NULL, whenever they began)
-- and the events overlapping the window [start, end), on the assets the sidebar's filters
-- select. An event belongs to a feeder through its asset: a meter's feeder, a transformer's
-- feeder, or the feeder itself; it matches the class filter when its meter has that class,
-- or when its transformer or feeder serves at least one meter of that class.
-- It belongs to a transformer when it is on that transformer or on one of its meters (a feeder's
-- event is on no transformer, so a transformer filter leaves it out).
WITH located AS (
    SELECT
        e.asset_type,
        e.asset,
        e.severity,
        e.start_ts,
        e.end_ts,
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
)
SELECT
    l.severity,
    count(*) FILTER (WHERE l.end_ts IS NULL)::int                               AS open,
    count(*) FILTER (
        WHERE l.start_ts < %(end)s AND (l.end_ts IS NULL OR l.end_ts > %(start)s)
    )::int                                                                      AS in_window
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
GROUP BY l.severity
ORDER BY l.severity
