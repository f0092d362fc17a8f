-- Live detection: the stored events of the given kinds starting in [lo, hi) or still
-- open, with their end (NULL: open).
SELECT kind, asset_type, asset, start_ts, end_ts
FROM grid_events
WHERE kind = ANY(%(kinds)s::text[])
  AND ((start_ts >= %(lo)s AND start_ts < %(hi)s) OR end_ts IS NULL)
