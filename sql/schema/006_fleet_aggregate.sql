-- Fleet-wide 15-minute aggregate (all meters together), straight from the raw
-- readings. The per-meter aggregates hold one row per meter per bucket, so a
-- fleet question ("the peak 15-minute periods this week", "average power per
-- hour today") still scans hundreds of rows per bucket there; here it reads one.
-- sum_power and readings keep fleet averages exact at any coarser bucket:
-- AVG(power) over a period = sum(sum_power) / sum(readings).
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
