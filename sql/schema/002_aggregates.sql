-- Continuous aggregates. Buckets are UTC. Refreshed by the Dagster
-- `refresh_aggregates_job` (the embedded engine runs no background workers;
-- against a native server the `continuous_aggregates` asset also adds policies).
--
-- Real-time aggregation: ON (materialized_only = false) for every aggregate,
-- chosen explicitly because TimescaleDB >= 2.13 defaults to OFF. The dashboard
-- and the seed's "this week" queries must see the newest, not yet refreshed
-- bucket; the price is that a query also aggregates the raw rows above the
-- refresh watermark, which the 5-minute refresh schedule keeps small.

-- The seed's 15-minute aggregate, its definition exactly as in the seed.
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

-- Hourly, built on the 15-minute aggregate (hierarchical). avg_power is the
-- mean of the 15-minute means: exact when every 15-minute bucket is complete.
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

-- Daily (UTC days), built on the hourly aggregate. Daily totals for a local
-- time zone are summed from the hourly aggregate instead (see
-- sql/queries/daily_energy_local.sql), because a UTC day is not a local day.
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

-- Per-meter hourly statistics for the dashboard's trends, bands and quality
-- views: power min/max, energy split into import and export, voltage min/max,
-- reading counts (completeness) and readings outside +-10% of nominal voltage.
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
        WHERE abs(r.voltage - m.nominal_voltage) > 0.1 * m.nominal_voltage
    )                                               AS voltage_out_of_band
FROM energy_readings AS r
JOIN meters AS m ON m.meter_id = r.meter_id
GROUP BY r.meter_id, time_bucket('1 hour', r.timestamp)
WITH NO DATA;
ALTER MATERIALIZED VIEW meter_hourly_stats SET (timescaledb.materialized_only = false);
