-- Core schema: the fleet, the primary readings hypertable, the quarantine.
-- Column names follow the seed (timestamp, meter_id, power, energy, voltage,
-- current) so its SQL runs unmodified. Re-runnable: IF NOT EXISTS everywhere.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- One row per smart meter; readings reference meters by meter_id (validated on
-- ingestion rather than by a foreign key, which would slow every insert).
CREATE TABLE IF NOT EXISTS meters (
    meter_id        integer PRIMARY KEY,
    customer_class  text    NOT NULL
        CHECK (customer_class IN ('residential', 'commercial', 'industrial')),
    feeder          text    NOT NULL,
    substation      text    NOT NULL,
    has_solar       boolean NOT NULL,
    rated_kw        double precision NOT NULL CHECK (rated_kw > 0),
    nominal_voltage double precision NOT NULL CHECK (nominal_voltage > 0),
    solar_kwp       double precision NOT NULL DEFAULT 0 CHECK (solar_kwp >= 0)
);

-- Readings: power in kW (net; negative = export), energy in kWh for the
-- interval, voltage in V, current in A. (meter_id, timestamp) is the natural
-- key that makes every write idempotent (ON CONFLICT DO NOTHING).
CREATE TABLE IF NOT EXISTS energy_readings (
    "timestamp" timestamptz      NOT NULL,
    meter_id    integer          NOT NULL,
    power       double precision NOT NULL,
    energy      double precision NOT NULL,
    voltage     double precision NOT NULL,
    current     double precision NOT NULL,
    CONSTRAINT energy_readings_meter_id_timestamp_key UNIQUE (meter_id, "timestamp")
);

SELECT create_hypertable(
    'energy_readings', 'timestamp',
    chunk_time_interval => INTERVAL '1 day',
    if_not_exists => TRUE,
    migrate_data => TRUE
);

-- Quarantine: every payload ingestion could not accept, byte for byte (bytea,
-- because a bad payload may not even be valid UTF-8), with the reason.
CREATE TABLE IF NOT EXISTS ingest_rejects (
    reject_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text        NOT NULL,
    payload     bytea       NOT NULL,
    reason      text        NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_rejects_received_at_idx ON ingest_rejects (received_at);
