-- Dashboard, Data quality: one meter's readings that VEE flagged or estimated in the window
-- [start, end), newest first, at most `limit` (`matching` counts them all). Per reading: what
-- the meter sent (NULL when the reading is missing), the rules that flagged it with their
-- details (why), the estimate that replaces it for billing and its method (what), and the
-- audited run that decided it (who ran it and when). Energy in kWh, power in kW (stored Wh
-- and W / 1000).
WITH flagged AS (
    SELECT
        f."timestamp",
        string_agg(f.rule, ', ' ORDER BY f.rule)                                  AS rules,
        string_agg(f.rule || CASE WHEN f.detail <> '' THEN ': ' || f.detail ELSE '' END,
                   '; ' ORDER BY f.rule)                                          AS details,
        max(f.vee_run)                                                            AS vee_run
    FROM reading_flags AS f
    WHERE f.meter_id = %(meter)s
      AND f."timestamp" >= %(start)s AND f."timestamp" < %(end)s
    GROUP BY f."timestamp"
),
estimated AS (
    SELECT e."timestamp", e.energy, e.original_energy, e.method, e.reason, e.vee_run
    FROM reading_estimates AS e
    WHERE e.meter_id = %(meter)s
      AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s
),
decided AS (
    SELECT
        coalesce(fl."timestamp", es."timestamp")  AS ts,
        fl.rules,
        fl.details,
        es.energy                                 AS estimate,
        es.original_energy,
        es.method,
        es.reason,
        coalesce(es.vee_run, fl.vee_run)          AS vee_run
    FROM flagged AS fl
    FULL JOIN estimated AS es ON es."timestamp" = fl."timestamp"
)
SELECT
    d.ts AT TIME ZONE %(tz)s::text                              AS time,
    coalesce(r.energy, d.original_energy)::float8 / 1000        AS original_kwh,
    r.power::float8 / 1000                                      AS power_kw,
    coalesce(d.rules, '')                                       AS rules,
    d.estimate::float8 / 1000                                   AS estimate_kwh,
    d.method,
    coalesce(d.details, d.reason, '')                           AS why,
    v.actor                                                     AS actor,
    v.started_at AT TIME ZONE %(tz)s::text                      AS decided_at,
    d.vee_run,
    count(*) OVER ()::int                                       AS matching
FROM decided AS d
LEFT JOIN energy_readings AS r
    ON r.meter_id = %(meter)s AND r."timestamp" = d.ts
   AND r."timestamp" >= %(start)s AND r."timestamp" < %(end)s
LEFT JOIN vee_runs AS v ON v.vee_run = d.vee_run
ORDER BY d.ts DESC
LIMIT %(limit)s
