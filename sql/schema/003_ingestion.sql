-- Live ingestion: one row per consumer run with its counters, written when the
-- run starts (status 'running') and updated when it ends, so an operator can see
-- every run's throughput, losses absorbed and rejects, and a crashed run stays
-- visible as 'running' with no ended_at.

CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id          text        PRIMARY KEY,
    client_id       text        NOT NULL,
    broker          text        NOT NULL,
    subscription    text        NOT NULL,
    protocol        text        NOT NULL,
    status          text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'finished', 'failed')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    received        bigint      NOT NULL DEFAULT 0,  -- messages delivered by the broker
    readings        bigint      NOT NULL DEFAULT 0,  -- valid readings in those messages
    inserted        bigint      NOT NULL DEFAULT 0,  -- new rows in energy_readings
    duplicates      bigint      NOT NULL DEFAULT 0,  -- valid readings absorbed by the key
    rejected        bigint      NOT NULL DEFAULT 0,  -- rows written to ingest_rejects
    batches         bigint      NOT NULL DEFAULT 0,  -- committed transactions
    acked           bigint      NOT NULL DEFAULT 0,  -- PUBACKs sent after commit
    overflows       bigint      NOT NULL DEFAULT 0,  -- deliveries left unacked (queue full)
    connects        integer     NOT NULL DEFAULT 0,
    commit_ms_p50   double precision,
    commit_ms_p95   double precision,
    lag_s_p50       double precision,  -- reading timestamp -> commit
    lag_s_p95       double precision,
    error           text
);
CREATE INDEX IF NOT EXISTS ingest_runs_started_at_idx ON ingest_runs (started_at);
