-- The injected faults (ground truth) that overlap [start, end), in the columns scoring compares.
SELECT kind, asset_type, asset, start_ts AS "start", end_ts AS "end"
FROM injected_faults
WHERE start_ts < %(end)s AND end_ts > %(start)s
ORDER BY kind, asset_type, asset, start_ts
