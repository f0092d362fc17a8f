-- Live detection: remove events a later pass no longer finds (a spike whose next reading
-- was also too high, an outage of readings that arrived late), by key.
DELETE FROM grid_events AS g
USING unnest(%(kind)s::text[], %(asset_type)s::text[], %(asset)s::text[],
             %(start_ts)s::timestamptz[]) AS k (kind, asset_type, asset, start_ts)
WHERE g.kind = k.kind AND g.asset_type = k.asset_type AND g.asset = k.asset
  AND g.start_ts = k.start_ts
