-- Alerts, severity: queue 'severity:<new>' for every alerted, unacknowledged event whose
-- severity differs from what its latest delivery announced (any severity: a downgrade is
-- news to whoever got the first alert). Each severity is announced at most once per
-- event (the key), so an event flapping between two severities is not re-sent each time.
-- Run after alerts_enqueue_closed: a close that also changed the severity announces it.
WITH announced AS (
    SELECT DISTINCT ON (kind, asset_type, asset, start_ts)
           kind, asset_type, asset, start_ts, severity
    FROM alert_deliveries
    ORDER BY kind, asset_type, asset, start_ts, seq DESC
)
INSERT INTO alert_deliveries
    (kind, asset_type, asset, start_ts, change, severity, end_ts, previous_severity,
     next_attempt_at, created_at)
SELECT e.kind, e.asset_type, e.asset, e.start_ts, 'severity:' || e.severity, e.severity,
       e.end_ts, a.severity, %(now)s, %(now)s
FROM grid_events AS e
JOIN announced AS a
  ON a.kind = e.kind AND a.asset_type = e.asset_type AND a.asset = e.asset
 AND a.start_ts = e.start_ts
WHERE e.acknowledged_at IS NULL AND a.severity IS NOT NULL AND e.severity <> a.severity
ON CONFLICT (kind, asset_type, asset, start_ts, change) DO NOTHING
