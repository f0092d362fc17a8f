-- Benchmark results, kept in the database so the dashboard can show them and
-- runs can be compared over time. One row per run, one row per measurement.

CREATE TABLE IF NOT EXISTS benchmark_runs (
    run_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    engine              text        NOT NULL,   -- 'embedded (PGlite)' or the server version
    timescaledb_version text        NOT NULL,
    rows                bigint      NOT NULL,   -- rows in the primary readings table
    meters              integer     NOT NULL,
    days                double precision NOT NULL,
    cores               integer     NOT NULL,
    memory_bytes        bigint,
    repetitions         integer     NOT NULL,
    advice              jsonb,                  -- chunk-interval advisor output
    ingest              jsonb                   -- ingest-path ladder (rows/s per path)
);

CREATE TABLE IF NOT EXISTS benchmark_results (
    run_id       bigint  NOT NULL REFERENCES benchmark_runs (run_id) ON DELETE CASCADE,
    query_name   text    NOT NULL,              -- e.g. q1_hourly_power_today
    variant      text    NOT NULL,              -- hypertable, e.g. energy_readings_3h
    storage      text    NOT NULL
        CHECK (storage IN ('uncompressed', 'compressed', 'aggregate')),
    median_ms    double precision NOT NULL,
    p95_ms       double precision NOT NULL,
    repetitions  integer NOT NULL,
    result_rows  integer,
    plan         text,                           -- EXPLAIN (ANALYZE, BUFFERS)
    PRIMARY KEY (run_id, query_name, variant, storage)
);

-- Compression study per variant: sizes before and after, as both TimescaleDB
-- views report them (they disagree when there is bloat).
CREATE TABLE IF NOT EXISTS compression_runs (
    compression_run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    compressed_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    hypertable              text        NOT NULL,
    chunks_compressed       integer     NOT NULL,
    rows_before             bigint      NOT NULL,
    rows_after              bigint      NOT NULL,
    before_total_bytes      bigint,                -- hypertable_compression_stats
    after_total_bytes       bigint,
    detailed_bytes_before   bigint,                -- hypertable_detailed_size
    detailed_bytes_after    bigint,
    seconds                 double precision NOT NULL
);
