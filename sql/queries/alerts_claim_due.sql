-- Alerts: lock one due pending delivery with its event (NULLs when the event is gone).
-- A delivery waits while an earlier change of the same event (lower seq) is pending, so
-- a receiver gets an event's changes in order. SKIP LOCKED: a row another deliverer
-- holds (it is posting it) is passed over, so two deliverers never send one row at once.
SELECT d.kind, d.asset_type, d.asset, d.start_ts, d.change, d.attempts,
       d.end_ts, coalesce(d.severity, e.severity), d.previous_severity, e.evidence,
       e.acknowledged_at, e.acknowledged_by, e.event_id IS NOT NULL AS present
FROM alert_deliveries AS d
LEFT JOIN grid_events AS e
       ON e.kind = d.kind AND e.asset_type = d.asset_type AND e.asset = d.asset
      AND e.start_ts = d.start_ts
WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
  AND NOT EXISTS (
        SELECT 1 FROM alert_deliveries AS p
        WHERE p.kind = d.kind AND p.asset_type = d.asset_type AND p.asset = d.asset
          AND p.start_ts = d.start_ts AND p.status = 'pending' AND p.seq < d.seq)
ORDER BY d.next_attempt_at, d.start_ts, d.seq
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
