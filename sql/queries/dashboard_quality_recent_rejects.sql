-- Dashboard, Data quality: the newest quarantined payloads; the payload is bytea (it may not be
-- UTF-8), shown as an escaped preview of its first bytes.
SELECT
    reject_id,
    received_at AT TIME ZONE %(tz)s::text                   AS received_at,
    topic,
    reason,
    octet_length(payload)::int                              AS bytes,
    encode(substring(payload FROM 1 FOR 160), 'escape')     AS payload_preview
FROM ingest_rejects
ORDER BY received_at DESC, reject_id DESC
LIMIT %(limit)s
