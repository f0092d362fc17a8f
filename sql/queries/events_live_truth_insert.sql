-- Live ground truth: the faults a live simulation published so far, one array per column.
INSERT INTO injected_faults (day, kind, asset_type, asset, start_ts, end_ts, magnitude)
SELECT * FROM unnest(
    %(day)s::date[], %(kind)s::text[], %(asset_type)s::text[], %(asset)s::text[],
    %(start_ts)s::timestamptz[], %(end_ts)s::timestamptz[], %(magnitude)s::float8[]
)
