-- Dashboard, Events: how many events the detectors have stored at all, and when the newest
-- starts (whole table, no filter), so the page can tell "nothing detected yet" (how to get
-- events) from "nothing in this window or selection" (widen it).
SELECT
    count(*)::int                               AS events,
    max(start_ts) AT TIME ZONE %(tz)s::text     AS newest_start
FROM grid_events
