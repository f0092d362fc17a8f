-- Live detection: the start of the oldest event of the given kinds still open (end_ts
-- NULL), which the next pass must read from to follow it.
SELECT min(start_ts) FROM grid_events WHERE end_ts IS NULL AND kind = ANY(%(kinds)s::text[])
