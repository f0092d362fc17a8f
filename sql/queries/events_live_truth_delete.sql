-- Live ground truth: remove the rows of the faults a tick touches, by key (kind, asset and
-- start as recorded), before they are inserted again with their end so far.
DELETE FROM injected_faults AS f
USING unnest(%(kind)s::text[], %(asset_type)s::text[], %(asset)s::text[],
             %(start_ts)s::timestamptz[]) AS k (kind, asset_type, asset, start_ts)
WHERE f.kind = k.kind AND f.asset_type = k.asset_type AND f.asset = k.asset
  AND f.start_ts = k.start_ts
