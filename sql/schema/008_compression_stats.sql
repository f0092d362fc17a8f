-- The seed's size report, verbatim:
--
--   SELECT hypertable_name, pg_size_pretty(total_bytes) AS size
--   FROM hypertable_compression_stats;
--
-- In TimescaleDB 2.x `hypertable_compression_stats` is a function of one
-- hypertable, so the bare name in FROM finds no relation. This view gives the
-- name a relation: one row per hypertable (timescaledb_information.hypertables:
-- the readings variants; continuous aggregates' internal hypertables are not
-- listed). A relation and a function may share a name, even in one schema
-- (pg_class and pg_proc are separate namespaces), and `name(...)` still calls
-- the function, so the project's own calls of it are unaffected.
--
-- Columns:
--   hypertable_schema, hypertable_name
--   total_chunks                    chunks of the hypertable
--   number_compressed_chunks        of which compressed
--   before_compression_total_bytes  the compressed chunks before compression,
--   after_compression_total_bytes   and after it (hypertable_compression_stats;
--                                   NULL while no chunk is compressed)
--   total_bytes                     what the hypertable occupies on disk now:
--                                   hypertable_size(), i.e. hypertable_detailed_size()
--                                   .total_bytes (tables, indexes and toast of every
--                                   chunk, compressed or not). It is the figure the
--                                   compression study records as the table's size after
--                                   compression (grid_pipeline/storage/compression.py:
--                                   CompressionSizes.detailed_total_bytes ->
--                                   compression_runs.detailed_bytes_after) and the one
--                                   the dashboard's storage page shows as total_bytes.
--                                   The seed labels it "size".
--
-- Why a function under the view instead of a plain view over TimescaleDB's
-- objects: a view records a dependency on every relation and function it names,
-- and TimescaleDB's update scripts drop and re-create their own views (for example
-- `DROP VIEW IF EXISTS timescaledb_information.hypertables`), so a view naming
-- them would make `ALTER EXTENSION timescaledb UPDATE` fail with "other objects
-- depend on it" - exactly the upgrade a newer production image needs. The body of
-- a LANGUAGE sql function given as a string records no dependency: it is resolved
-- when it runs (on the search path, where the extension's functions live: `public`
-- in PGlite and in the timescale/timescaledb image alike).
--
-- Re-runnable: CREATE OR REPLACE. The dashboard's role reads the view through the
-- default privileges of 005_roles.sql (ON TABLES covers views); the explicit grant
-- below also covers a migration run by another role than the one that ran 005.

CREATE OR REPLACE FUNCTION hypertable_size_report()
RETURNS TABLE (
    hypertable_schema name,
    hypertable_name name,
    total_chunks bigint,
    number_compressed_chunks bigint,
    before_compression_total_bytes bigint,
    after_compression_total_bytes bigint,
    total_bytes bigint
)
LANGUAGE sql
STABLE
AS $body$
    SELECT
        h.hypertable_schema,
        h.hypertable_name,
        coalesce(s.total_chunks, h.num_chunks)::bigint,
        coalesce(s.number_compressed_chunks, 0)::bigint,
        s.before_compression_total_bytes,
        s.after_compression_total_bytes,
        hypertable_size(ht.rel)::bigint
    FROM timescaledb_information.hypertables AS h
    CROSS JOIN LATERAL (
        SELECT format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass AS rel
    ) AS ht
    LEFT JOIN LATERAL hypertable_compression_stats(ht.rel) AS s ON true
    ORDER BY h.hypertable_schema, h.hypertable_name
$body$;

COMMENT ON FUNCTION hypertable_size_report() IS
    'Rows of the hypertable_compression_stats view (sql/schema/008_compression_stats.sql).';

CREATE OR REPLACE VIEW hypertable_compression_stats AS
    SELECT * FROM hypertable_size_report();

COMMENT ON VIEW hypertable_compression_stats IS
    'The seed''s size report: per hypertable, chunks, compressed chunks, bytes before/after '
    'compression and total_bytes = hypertable_size() (sql/schema/008_compression_stats.sql).';

GRANT SELECT ON hypertable_compression_stats TO grid_reader;
