-- Alerts, close: queue 'closed' for every event that has ended (end_ts set) and was
-- alerted only as open (none of its deliveries announced an end). Acknowledged or not:
-- the receiver resolves the incident with it. Run after alerts_enqueue.
INSERT INTO alert_deliveries
    (kind, asset_type, asset, start_ts, change, severity, end_ts, next_attempt_at, created_at)
SELECT e.kind, e.asset_type, e.asset, e.start_ts, 'closed', e.severity, e.end_ts,
       %(now)s, %(now)s
FROM grid_events AS e
WHERE e.end_ts IS NOT NULL
  AND EXISTS (
        SELECT 1 FROM alert_deliveries AS d
        WHERE d.kind = e.kind AND d.asset_type = e.asset_type AND d.asset = e.asset
          AND d.start_ts = e.start_ts)
  AND NOT EXISTS (
        SELECT 1 FROM alert_deliveries AS d
        WHERE d.kind = e.kind AND d.asset_type = e.asset_type AND d.asset = e.asset
          AND d.start_ts = e.start_ts AND d.end_ts IS NOT NULL)
ON CONFLICT (kind, asset_type, asset, start_ts, change) DO NOTHING
