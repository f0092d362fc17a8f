-- Dashboard, Live: the ingestion state of the (filtered) fleet, judged against the reporting
-- interval. Meters send one reading per interval (the interval parameter; its timestamp is the
-- interval's start), so readings arrive in bursts and a count over the last minutes of
-- wall-clock time drops to zero between bursts. Everything here is measured per interval:
--
--   due            the newest interval that ended at least the grace parameter ago: by now
--                  every meter should have reported it;
--   due_meters     meters of the fleet with a reading for it; readings_per_s its readings over
--                  the interval's length, expected_per_s one reading per meter and interval;
--   lag_s          now minus the end of the newest reading's interval (negative while a meter
--                  has already sent the running interval);
--   behind         due intervals after the newest reading, none of which has any reading
--                  (NULL when the fleet sent nothing in the hour before the due interval);
--   state          'normal' when behind = 0 and (nearly) every meter (at least the nearly
--                  parameter's share) reported the due interval; 'late' when some meters or up
--                  to late_intervals intervals are missing; 'stalled' beyond that, or when the
--                  fleet sent nothing in the hour before the due interval.
--
-- The run columns come from the newest ingestion run (NULL when ingestion never ran); its
-- counters are live (heartbeat every few seconds), and a running run that stopped beating
-- shows as 'stale'.
WITH fleet AS (
    SELECT m.meter_id
    FROM meters AS m
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
),
clock AS (
    SELECT
        now() AS now,
        time_bucket(%(interval)s::interval, now() - %(grace)s::interval)
            - %(interval)s::interval AS due
),
recent AS (
    -- The bound is written out (not taken from `clock`) so TimescaleDB can exclude chunks.
    SELECT r.meter_id, r."timestamp", r.power
    FROM energy_readings AS r
    JOIN fleet AS f ON f.meter_id = r.meter_id
    WHERE r."timestamp" >= time_bucket(%(interval)s::interval, now() - %(grace)s::interval)
                           - %(interval)s::interval - INTERVAL '1 hour'
),
due AS (
    SELECT
        count(DISTINCT r.meter_id)::int     AS meters,
        count(*)::bigint                    AS readings,
        sum(r.power)::float8 / 1000         AS power_kw
    FROM recent AS r
    WHERE r."timestamp" = (SELECT due FROM clock)
),
judged AS (
    SELECT
        c.now,
        c.due,
        (SELECT count(*) FROM fleet)::int                                   AS meters,
        d.meters                                                            AS due_meters,
        d.readings,
        d.power_kw,
        n.t                                                                 AS newest,
        CASE WHEN n.t IS NOT NULL THEN greatest(0, floor(
            extract(epoch FROM c.due - n.t) / extract(epoch FROM %(interval)s::interval)))::int
        END                                                                 AS behind
    FROM clock AS c
    CROSS JOIN due AS d
    CROSS JOIN (SELECT max(r."timestamp") AS t FROM recent AS r) AS n
),
run AS (
    SELECT run_id,
           CASE WHEN status = 'running'
                 AND coalesce(heartbeat_at, started_at)
                     < now() - make_interval(secs => 6 * coalesce(heartbeat_s, 5))
                THEN 'stale' ELSE status END AS status,
           started_at, heartbeat_at, received, inserted, duplicates, rejected,
           lag_s_p50, lag_s_p95
    FROM ingest_runs
    ORDER BY started_at DESC
    LIMIT 1
)
SELECT
    j.due AT TIME ZONE %(tz)s::text                                         AS due_start,
    (j.due + %(interval)s::interval) AT TIME ZONE %(tz)s::text              AS due_end,
    j.meters,
    j.due_meters,
    j.power_kw                                                              AS due_power_kw,
    (j.readings / extract(epoch FROM %(interval)s::interval))::float8       AS readings_per_s,
    (j.meters / extract(epoch FROM %(interval)s::interval))::float8         AS expected_per_s,
    j.newest AT TIME ZONE %(tz)s::text                                      AS newest_reading,
    extract(epoch FROM j.now - (j.newest + %(interval)s::interval))::float8 AS lag_s,
    j.behind,
    CASE
        WHEN j.newest IS NULL OR j.behind > %(late_intervals)s::int THEN 'stalled'
        WHEN j.behind > 0 OR j.due_meters < %(nearly)s::float8 * j.meters THEN 'late'
        ELSE 'normal'
    END                                                                     AS state,
    run.run_id, run.status, run.started_at, run.received, run.inserted,
    run.duplicates, run.rejected, run.lag_s_p50, run.lag_s_p95,
    run.heartbeat_at AT TIME ZONE %(tz)s::text                              AS run_last_seen,
    extract(epoch FROM now() - run.heartbeat_at)::float8                    AS run_seen_s_ago
FROM judged AS j
LEFT JOIN run ON true
