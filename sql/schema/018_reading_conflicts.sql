-- Conflicting duplicates: a reading received for a (meter_id, timestamp) the readings table
-- already holds with DIFFERENT values. The table keeps one row per key and the first write
-- wins (ON CONFLICT DO NOTHING); this records what else arrived for the key, beside what is
-- stored, when and by which ingestion run (ingest_runs.run_id), so VEE can flag the reading
-- (rule duplicate_conflict) and an operator can see both versions. An exact re-send is a
-- plain duplicate, not a conflict. Values in stored units (W, Wh, 0.1 V, mA).
CREATE TABLE IF NOT EXISTS reading_conflicts (
    "timestamp"    timestamptz NOT NULL,
    meter_id       integer     NOT NULL,
    power          integer     NOT NULL,
    energy         integer     NOT NULL,
    voltage        integer     NOT NULL,
    current        integer     NOT NULL,
    stored_power   integer     NOT NULL,
    stored_energy  integer     NOT NULL,
    stored_voltage integer     NOT NULL,
    stored_current integer     NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    run_id         text        NOT NULL,
    readings_table text        NOT NULL DEFAULT 'energy_readings'
);
CREATE INDEX IF NOT EXISTS reading_conflicts_key ON reading_conflicts (meter_id, "timestamp");
CREATE INDEX IF NOT EXISTS reading_conflicts_time ON reading_conflicts ("timestamp");
COMMENT ON COLUMN reading_conflicts.power IS 'W as received; stored_power: W as stored';

-- The consumer inserts (no identity sequence to grant); the dashboard reads.
GRANT INSERT ON reading_conflicts TO grid_ingest;
GRANT SELECT ON reading_conflicts TO grid_reader;
