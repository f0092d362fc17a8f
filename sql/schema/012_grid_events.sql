-- Grid events: what the feeder heads measure, which physical faults were injected
-- (the ground truth), and what the detectors found.
--
-- Feeder-head readings live beside energy_readings, not in it, so the readings
-- table keeps exactly one row per customer meter and interval (2,016,000 on the
-- default data set). Units follow the readings (migration 009): power in W,
-- energy in Wh for the interval.
CREATE TABLE IF NOT EXISTS feeder_head_readings (
    "timestamp" timestamptz NOT NULL,
    feeder      text        NOT NULL,
    power       integer     NOT NULL,
    energy      integer     NOT NULL,
    CONSTRAINT feeder_head_readings_feeder_timestamp_key UNIQUE (feeder, "timestamp")
);
SELECT create_hypertable(
    'feeder_head_readings', 'timestamp',
    chunk_time_interval => INTERVAL '7 days',
    if_not_exists => TRUE
);
COMMENT ON COLUMN feeder_head_readings.power IS 'W, the feeder''s total at its head';
COMMENT ON COLUMN feeder_head_readings.energy IS 'Wh over the interval';

-- Physical faults the generator injected, with their true extent: what scoring
-- compares detected events with. asset is a meter id, a transformer or a feeder
-- (asset_type says which); [start_ts, end_ts) is half-open. `day` is the UTC day
-- whose generation owns the row, so re-generating a day replaces exactly its rows.
CREATE TABLE IF NOT EXISTS injected_faults (
    fault_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day        date        NOT NULL,
    kind       text        NOT NULL,
    asset_type text        NOT NULL CHECK (asset_type IN ('meter', 'transformer', 'feeder')),
    asset      text        NOT NULL,
    start_ts   timestamptz NOT NULL,
    end_ts     timestamptz NOT NULL CHECK (end_ts > start_ts),
    magnitude  double precision
);
CREATE INDEX IF NOT EXISTS injected_faults_day_idx ON injected_faults (day);

-- Events the detectors found. One row per (kind, asset, start): detecting the
-- same window again updates the row instead of adding one. end_ts is NULL while
-- the event is still open (the live path). evidence holds the values that made
-- the detector decide (means, ratings, counts), for the operator and for audit.
CREATE TABLE IF NOT EXISTS grid_events (
    event_id        bigint GENERATED ALWAYS AS IDENTITY,
    kind            text        NOT NULL,
    asset_type      text        NOT NULL CHECK (asset_type IN ('meter', 'transformer', 'feeder')),
    asset           text        NOT NULL,
    start_ts        timestamptz NOT NULL,
    end_ts          timestamptz,
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    evidence        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    detector        text        NOT NULL,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    PRIMARY KEY (event_id, start_ts),
    CONSTRAINT grid_events_kind_asset_start_key UNIQUE (kind, asset_type, asset, start_ts)
);
SELECT create_hypertable(
    'grid_events', 'start_ts',
    chunk_time_interval => INTERVAL '30 days',
    if_not_exists => TRUE
);

GRANT SELECT ON feeder_head_readings, injected_faults, grid_events TO grid_reader;
