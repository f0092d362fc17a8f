-- Event detection: insert a window's detected events, one array per column.
INSERT INTO grid_events
    (kind, asset_type, asset, start_ts, end_ts, severity, evidence, detector, acknowledged_at,
     acknowledged_by)
SELECT * FROM unnest(
    %(kind)s::text[], %(asset_type)s::text[], %(asset)s::text[], %(start_ts)s::timestamptz[],
    %(end_ts)s::timestamptz[], %(severity)s::text[], %(evidence)s::jsonb[],
    %(detector)s::text[], %(acknowledged_at)s::timestamptz[], %(acknowledged_by)s::text[]
)
