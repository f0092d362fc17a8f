-- Dashboard, Storage: each configured readings variant that exists as a hypertable, with its
-- chunk interval, chunk counts and TimescaleDB's own compression statistics (NULL sizes when
-- nothing is compressed).
WITH ht AS (
    SELECT
        h.hypertable_name,
        (quote_ident(h.hypertable_schema) || '.' || quote_ident(h.hypertable_name))::regclass
            AS rel
    FROM timescaledb_information.hypertables AS h
    WHERE h.hypertable_name = ANY(%(variants)s::text[])
      AND h.hypertable_schema = current_schema()
)
SELECT
    ht.hypertable_name                                  AS variant,
    d.time_interval                                     AS chunk_interval,
    (SELECT count(*) FROM timescaledb_information.chunks AS c
      WHERE c.hypertable_schema = current_schema()
        AND c.hypertable_name = ht.hypertable_name)::int                    AS chunks,
    (SELECT count(*) FROM timescaledb_information.chunks AS c
      WHERE c.hypertable_schema = current_schema()
        AND c.hypertable_name = ht.hypertable_name AND c.is_compressed)::int AS compressed_chunks,
    hypertable_size(ht.rel)::bigint                     AS total_bytes,
    s.before_compression_total_bytes::bigint            AS before_bytes,
    s.after_compression_total_bytes::bigint             AS after_bytes
FROM ht
LEFT JOIN timescaledb_information.dimensions AS d
    ON d.hypertable_schema = current_schema()
   AND d.hypertable_name = ht.hypertable_name AND d.dimension_number = 1
LEFT JOIN LATERAL hypertable_compression_stats(ht.rel) AS s ON true
ORDER BY d.time_interval
