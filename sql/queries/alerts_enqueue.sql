-- Alerts, first alert: queue every unacknowledged event at or above the minimum severity
-- that has no delivery yet, as 'opened', with what it announces (severity, end: an event
-- first seen closed is announced closed). The stable key plus the change is the conflict
-- target, so an event re-detected (deleted and re-inserted with a new event_id) is never
-- queued twice. An event acknowledged before its first alert is not alerted.
INSERT INTO alert_deliveries
    (kind, asset_type, asset, start_ts, change, severity, end_ts, next_attempt_at, created_at)
SELECT e.kind, e.asset_type, e.asset, e.start_ts, 'opened', e.severity, e.end_ts,
       %(now)s, %(now)s
FROM grid_events AS e
WHERE e.severity = ANY(%(severities)s::text[]) AND e.acknowledged_at IS NULL
ON CONFLICT (kind, asset_type, asset, start_ts, change) DO NOTHING
