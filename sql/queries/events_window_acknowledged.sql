-- Event detection: the acknowledgements (when and who) of events starting in [start, end),
-- kept for the same event (kind, asset, start) when the window is detected again.
SELECT kind, asset_type, asset, start_ts, acknowledged_at, acknowledged_by
FROM grid_events
WHERE start_ts >= %(start)s AND start_ts < %(end)s AND acknowledged_at IS NOT NULL
