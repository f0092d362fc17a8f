-- Retention of the quarantine: delete one batch of quarantined payloads received
-- before %(cutoff)s (now - GRID_REJECTS_RETENTION), oldest first, at most
-- %(batch_rows)s rows, by the received_at index. The caller repeats it, one
-- transaction per batch, until a batch deletes fewer rows than the limit.
WITH expired AS (
    SELECT reject_id
    FROM ingest_rejects
    WHERE received_at < %(cutoff)s
    ORDER BY received_at
    LIMIT %(batch_rows)s
)
DELETE FROM ingest_rejects AS r
USING expired AS e
WHERE r.reject_id = e.reject_id
