-- Alerts: a POST failed. One more attempt counted, the error kept; the row is due again
-- at next_attempt_at (the backoff), or failed for good when status says so.
UPDATE alert_deliveries
SET status = %(status)s, attempts = attempts + 1, last_error = %(error)s,
    next_attempt_at = %(next_attempt_at)s
WHERE kind = %(kind)s AND asset_type = %(asset_type)s AND asset = %(asset)s
  AND start_ts = %(start_ts)s AND change = %(change)s
