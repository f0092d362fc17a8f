-- Alerts: queue every event at or above the minimum severity that has no delivery row
-- yet. The stable key is the conflict target, so an event re-detected (deleted and
-- re-inserted with a new event_id) is never queued twice.
INSERT INTO alert_deliveries (kind, asset_type, asset, start_ts, next_attempt_at, created_at)
SELECT e.kind, e.asset_type, e.asset, e.start_ts, %(now)s, %(now)s
FROM grid_events AS e
WHERE e.severity = ANY(%(severities)s::text[])
ON CONFLICT (kind, asset_type, asset, start_ts) DO NOTHING
