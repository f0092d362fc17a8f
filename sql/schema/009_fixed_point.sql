-- Readings stored as fixed-point integers in the meter's own units.
--
--   power   integer  W     (net; negative = export)        kW  = power / 1000.0
--   energy  integer  Wh    (the interval's register delta) kWh = energy / 1000.0
--   voltage integer  0.1 V                                 V   = voltage / 10.0
--   current integer  mA                                    A   = current / 1000.0
--
-- Why: meters report whole units, so integers lose nothing they measured; daily
-- energy is an exact integer sum; and TimescaleDB compresses integers with
-- delta-of-delta + simple-8b (about 90 % smaller) where float8 stops near 70 %.
-- The seed's SQL runs on these tables verbatim (the seed names no units).
--
-- Existing data directories are converted in place: every readings table still
-- in float8 (the primary and its chunk-interval variants) is decompressed, its
-- compression switched off (PostgreSQL cannot change a compressed column's
-- type; `enable_compression` switches it on again with the same settings on the
-- next compression run) and its columns rewritten with the values rounded to
-- the units above. Every row is kept. The continuous aggregates depend on these
-- columns, so they are dropped and created again (empty; real-time aggregation
-- answers from the readings until the next refresh fills them). On a new
-- database the tables are still empty and this takes milliseconds.

DROP MATERIALIZED VIEW IF EXISTS energy_readings_daily;
DROP MATERIALIZED VIEW IF EXISTS energy_readings_hourly;
DROP MATERIALIZED VIEW IF EXISTS energy_readings_15min;
DROP MATERIALIZED VIEW IF EXISTS meter_hourly_stats;
DROP MATERIALIZED VIEW IF EXISTS fleet_15min;

DO $$
DECLARE
    readings regclass;
BEGIN
    FOR readings IN
        SELECT c.oid::regclass
        FROM pg_class AS c
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'power'
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind = 'r'
          AND c.relname IN ('energy_readings', 'energy_readings_3h', 'energy_readings_week')
          AND a.atttypid = 'double precision'::regtype
    LOOP
        RAISE INFO 'converting % to fixed-point integers (every row is rewritten)', readings;
        PERFORM remove_compression_policy(readings, if_exists => TRUE);
        PERFORM decompress_chunk(chunk, if_compressed => TRUE)
            FROM show_chunks(readings) AS chunk;
        IF EXISTS (
            SELECT 1 FROM timescaledb_information.hypertables AS h
            WHERE format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass = readings
              AND h.compression_enabled
        ) THEN
            EXECUTE format('ALTER TABLE %s SET (timescaledb.compress = false)', readings);
        END IF;
        EXECUTE format(
            'ALTER TABLE %s '
            'ALTER COLUMN power   TYPE integer USING round(power * 1000)::integer, '
            'ALTER COLUMN energy  TYPE integer USING round(energy * 1000)::integer, '
            'ALTER COLUMN voltage TYPE integer USING round(voltage * 10)::integer, '
            'ALTER COLUMN current TYPE integer USING round(current * 1000)::integer',
            readings
        );
    END LOOP;
END
$$;

COMMENT ON COLUMN energy_readings.power IS 'net power in W (negative = export); kW = power / 1000.0';
COMMENT ON COLUMN energy_readings.energy IS 'interval energy in Wh, the difference of the meter''s register; kWh = energy / 1000.0';
COMMENT ON COLUMN energy_readings.voltage IS 'voltage in 0.1 V; V = voltage / 10.0';
COMMENT ON COLUMN energy_readings.current IS 'current in mA; A = current / 1000.0';

-- The seed's continuous aggregate, verbatim: its values are in the stored units
-- (avg_power and max_power in W, total_energy in Wh).
CREATE MATERIALIZED VIEW IF NOT EXISTS energy_readings_15min
WITH (timescaledb.continuous) AS
SELECT
    meter_id,
    time_bucket('15 minutes', timestamp) AS bucket,
    AVG(power) AS avg_power,
    MAX(power) AS max_power,
    SUM(energy) AS total_energy
FROM energy_readings
GROUP BY meter_id, bucket
WITH NO DATA;
ALTER MATERIALIZED VIEW energy_readings_15min SET (timescaledb.materialized_only = false);

-- Hierarchical roll-ups of the seed's aggregate (W and Wh, like it).
CREATE MATERIALIZED VIEW IF NOT EXISTS energy_readings_hourly
WITH (timescaledb.continuous) AS
SELECT
    meter_id,
    time_bucket('1 hour', bucket) AS bucket,
    AVG(avg_power) AS avg_power,
    MAX(max_power) AS max_power,
    SUM(total_energy) AS total_energy
FROM energy_readings_15min
GROUP BY meter_id, time_bucket('1 hour', bucket)
WITH NO DATA;
ALTER MATERIALIZED VIEW energy_readings_hourly SET (timescaledb.materialized_only = false);

CREATE MATERIALIZED VIEW IF NOT EXISTS energy_readings_daily
WITH (timescaledb.continuous) AS
SELECT
    meter_id,
    time_bucket('1 day', bucket) AS bucket,
    AVG(avg_power) AS avg_power,
    MAX(max_power) AS max_power,
    SUM(total_energy) AS total_energy
FROM energy_readings_hourly
GROUP BY meter_id, time_bucket('1 day', bucket)
WITH NO DATA;
ALTER MATERIALIZED VIEW energy_readings_daily SET (timescaledb.materialized_only = false);

-- Per meter and hour, everything the dashboard's meter pages read, in the
-- stored units (W, Wh, 0.1 V, mA); the out-of-band count compares volts.
CREATE MATERIALIZED VIEW IF NOT EXISTS meter_hourly_stats
WITH (timescaledb.continuous) AS
SELECT
    r.meter_id,
    time_bucket('1 hour', r.timestamp) AS bucket,
    count(*)                                        AS readings,
    avg(r.power)                                    AS avg_power,
    min(r.power)                                    AS min_power,
    max(r.power)                                    AS max_power,
    sum(r.energy)                                   AS net_energy,
    sum(greatest(r.energy, 0))                      AS import_energy,
    sum(greatest(-r.energy, 0))                     AS export_energy,
    avg(r.voltage)                                  AS avg_voltage,
    min(r.voltage)                                  AS min_voltage,
    max(r.voltage)                                  AS max_voltage,
    max(r.current)                                  AS max_current,
    count(*) FILTER (
        WHERE abs(r.voltage / 10.0 - m.nominal_voltage) > 0.1 * m.nominal_voltage
    )                                               AS voltage_out_of_band
FROM energy_readings AS r
JOIN meters AS m ON m.meter_id = r.meter_id
GROUP BY r.meter_id, time_bucket('1 hour', r.timestamp)
WITH NO DATA;
ALTER MATERIALIZED VIEW meter_hourly_stats SET (timescaledb.materialized_only = false);

-- The whole fleet per 15 minutes (W and Wh), for the Live and Insights pages.
CREATE MATERIALIZED VIEW IF NOT EXISTS fleet_15min
WITH (timescaledb.continuous) AS
SELECT
    time_bucket('15 minutes', timestamp) AS bucket,
    count(*)      AS readings,
    sum(power)    AS sum_power,
    avg(power)    AS avg_power,
    min(power)    AS min_power,
    max(power)    AS max_power,
    sum(energy)   AS total_energy
FROM energy_readings
GROUP BY time_bucket('15 minutes', timestamp)
WITH NO DATA;
ALTER MATERIALIZED VIEW fleet_15min SET (timescaledb.materialized_only = false);

GRANT SELECT ON energy_readings_15min, energy_readings_hourly, energy_readings_daily,
    meter_hourly_stats, fleet_15min TO grid_reader;
