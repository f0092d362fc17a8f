-- Live detection: insert the events found, one array per column; an event already
-- stored (same kind, asset, start) gets its new end (NULL while open), severity and
-- evidence, and keeps detected_at (when it was first seen) and its acknowledgement.
INSERT INTO grid_events (kind, asset_type, asset, start_ts, end_ts, severity, evidence, detector)
SELECT * FROM unnest(
    %(kind)s::text[], %(asset_type)s::text[], %(asset)s::text[], %(start_ts)s::timestamptz[],
    %(end_ts)s::timestamptz[], %(severity)s::text[], %(evidence)s::jsonb[], %(detector)s::text[]
)
ON CONFLICT (kind, asset_type, asset, start_ts) DO UPDATE
SET end_ts = EXCLUDED.end_ts, severity = EXCLUDED.severity,
    evidence = EXCLUDED.evidence, detector = EXCLUDED.detector
WHERE (grid_events.end_ts, grid_events.severity, grid_events.evidence)
      IS DISTINCT FROM (EXCLUDED.end_ts, EXCLUDED.severity, EXCLUDED.evidence)
