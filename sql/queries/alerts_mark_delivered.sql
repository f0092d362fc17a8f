-- Alerts: the webhook accepted the POST (2xx); in the transaction that holds the row lock.
UPDATE alert_deliveries
SET status = 'delivered', attempts = attempts + 1, last_error = NULL, delivered_at = %(now)s
WHERE kind = %(kind)s AND asset_type = %(asset_type)s AND asset = %(asset)s
  AND start_ts = %(start_ts)s AND change = %(change)s
