-- Acknowledge: mark the given events acknowledged now, by whom. An event acknowledged
-- before keeps its first acknowledgement (when and who), so acknowledging twice changes
-- nothing. Runs as grid_operator, which may update only these two columns.
UPDATE grid_events
SET acknowledged_at = now(), acknowledged_by = %(by)s
WHERE event_id = ANY(%(ids)s::bigint[]) AND acknowledged_at IS NULL
