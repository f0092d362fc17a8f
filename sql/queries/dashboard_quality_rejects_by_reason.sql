-- Dashboard, Data quality: quarantined payloads per reason, with first and last occurrence.
SELECT
    reason,
    count(*)::bigint                            AS payloads,
    min(received_at) AT TIME ZONE %(tz)s::text  AS first_seen,
    max(received_at) AT TIME ZONE %(tz)s::text  AS last_seen
FROM ingest_rejects
GROUP BY reason
ORDER BY payloads DESC, reason
