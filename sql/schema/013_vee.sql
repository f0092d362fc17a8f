-- VEE: validation, estimation and editing of the readings, with an audit trail.
--
-- The readings stay as the meters sent them. Validation flags readings per rule
-- (reading_flags); estimation writes a replacement energy for each interval that is
-- missing or invalid (reading_estimates), keeping the original beside it, with the
-- method, the rules that rejected the original and the run that decided it
-- (vee_runs: who ran it, when, over which window). validated_readings is the series
-- billing reads: the actual reading where it passed, the estimate where it did not.
-- Energy in Wh, as in energy_readings.
CREATE TABLE IF NOT EXISTS vee_runs (
    vee_run      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    actor        text        NOT NULL,
    rules        text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    flags        integer,
    estimates    integer
);

CREATE TABLE IF NOT EXISTS reading_flags (
    "timestamp" timestamptz NOT NULL,
    meter_id    integer     NOT NULL,
    rule        text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    vee_run     bigint      NOT NULL,
    CONSTRAINT reading_flags_key UNIQUE (meter_id, "timestamp", rule)
);
SELECT create_hypertable('reading_flags', 'timestamp', chunk_time_interval => INTERVAL '7 days',
                         if_not_exists => TRUE);

CREATE TABLE IF NOT EXISTS reading_estimates (
    "timestamp"     timestamptz NOT NULL,
    meter_id        integer     NOT NULL,
    energy          integer     NOT NULL,
    original_energy integer,
    method          text        NOT NULL CHECK (method IN ('linear', 'like_day', 'hold')),
    reason          text        NOT NULL,
    vee_run         bigint      NOT NULL,
    CONSTRAINT reading_estimates_key UNIQUE (meter_id, "timestamp")
);
SELECT create_hypertable('reading_estimates', 'timestamp',
                         chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE);
COMMENT ON COLUMN reading_estimates.energy IS 'Wh, the estimate that replaces the reading';
COMMENT ON COLUMN reading_estimates.original_energy IS 'Wh as the meter sent it; NULL: missing';

CREATE OR REPLACE VIEW validated_readings AS
SELECT r."timestamp", r.meter_id, coalesce(e.energy, r.energy) AS energy,
       CASE WHEN e.meter_id IS NULL THEN 'actual' ELSE 'estimated' END AS quality,
       e.method, e.reason
FROM energy_readings AS r
LEFT JOIN reading_estimates AS e ON e.meter_id = r.meter_id AND e."timestamp" = r."timestamp"
UNION ALL
SELECT e."timestamp", e.meter_id, e.energy, 'estimated', e.method, e.reason
FROM reading_estimates AS e
WHERE e.original_energy IS NULL
  AND NOT EXISTS (  -- a reading that arrived after its estimate is read through the join above
      SELECT 1 FROM energy_readings AS r
      WHERE r.meter_id = e.meter_id AND r."timestamp" = e."timestamp");

GRANT SELECT ON vee_runs, reading_flags, reading_estimates, validated_readings TO grid_reader;
