-- VEE: one run's flags, as arrays (the embedded engine's wire server cannot COPY).
INSERT INTO reading_flags ("timestamp", meter_id, rule, detail, vee_run)
SELECT t, m, r, d, %(run)s
FROM unnest(%(timestamp)s::timestamptz[], %(meter_id)s::int4[], %(rule)s::text[],
            %(detail)s::text[]) AS f(t, m, r, d)
