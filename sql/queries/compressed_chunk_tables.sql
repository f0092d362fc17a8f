-- The internal tables holding one hypertable's compressed data, one row per
-- compressed chunk (`_timescaledb_internal.compress_hyper_*`). Each of their
-- rows is one compressed batch: `_ts_meta_count` rows of one segment, each
-- compressed column one `compressed_data` value. Read from TimescaleDB's
-- catalog: no documented view names these tables.
SELECT cc.schema_name, cc.table_name
FROM _timescaledb_catalog.hypertable AS h
JOIN _timescaledb_catalog.chunk AS c ON c.hypertable_id = h.id
JOIN _timescaledb_catalog.chunk AS cc ON cc.id = c.compressed_chunk_id
WHERE h.schema_name = current_schema() AND h.table_name = %(table)s AND NOT c.dropped
ORDER BY c.id
