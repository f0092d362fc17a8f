-- Alerts per change of an event, not once per event.
--
-- alert_deliveries (015) held one row per event: an event was POSTed once, when it
-- first qualified. Now a row is one change of the event: 'opened' (its first alert),
-- 'closed' (an event alerted while open got its end), 'severity:<new>' (its severity
-- changed). The key is the event's stable key plus the change, so each change is
-- delivered once, across restarts and re-detection, as the event was before.
-- Each row keeps what it announces (severity, end_ts; previous_severity for a
-- severity change), which the next change is compared with; seq orders one event's
-- changes, and they are delivered in that order.

ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS change text NOT NULL DEFAULT 'opened';
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS severity text;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS end_ts timestamptz;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS previous_severity text;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;

-- A row of 015 announced the event as it is now (it was sent from it): without this,
-- every event alerted before the upgrade would look changed and be sent again.
UPDATE alert_deliveries AS d
SET severity = e.severity, end_ts = e.end_ts
FROM grid_events AS e
WHERE e.kind = d.kind AND e.asset_type = d.asset_type AND e.asset = d.asset
  AND e.start_ts = d.start_ts AND d.severity IS NULL;

ALTER TABLE alert_deliveries DROP CONSTRAINT IF EXISTS alert_deliveries_pkey;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_pkey
    PRIMARY KEY (kind, asset_type, asset, start_ts, change);
