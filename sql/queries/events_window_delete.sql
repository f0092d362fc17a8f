-- Event detection: remove the detected events starting in [start, end) before the window's
-- new result is inserted (same transaction), so detecting a window twice is idempotent.
DELETE FROM grid_events WHERE start_ts >= %(start)s AND start_ts < %(end)s
