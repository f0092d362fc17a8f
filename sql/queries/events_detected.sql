-- The detected grid events that start in [start, end), in the columns scoring compares.
SELECT kind, asset_type, asset, start_ts AS "start", end_ts AS "end"
FROM grid_events
WHERE start_ts >= %(start)s AND start_ts < %(end)s
ORDER BY kind, asset_type, asset, start_ts
