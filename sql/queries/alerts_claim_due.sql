-- Alerts: lock one due pending delivery with its event (NULLs when the event is gone).
-- SKIP LOCKED: a row another deliverer holds (it is posting it) is passed over, so two
-- deliverers never send the same row at once.
SELECT d.kind, d.asset_type, d.asset, d.start_ts, d.attempts,
       e.end_ts, e.severity, e.evidence, e.event_id IS NOT NULL AS present
FROM alert_deliveries AS d
LEFT JOIN grid_events AS e
       ON e.kind = d.kind AND e.asset_type = d.asset_type AND e.asset = d.asset
      AND e.start_ts = d.start_ts
WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
ORDER BY d.next_attempt_at, d.start_ts
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
