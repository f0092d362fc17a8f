-- Acknowledge: which of the given event ids exist (re-detection gives events new ids, so
-- an id read before it may be gone).
SELECT coalesce(array_agg(event_id), '{}') FROM grid_events WHERE event_id = ANY(%(ids)s::bigint[])
