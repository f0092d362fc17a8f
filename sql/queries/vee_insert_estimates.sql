-- VEE: one run's estimates with the originals they replace, as arrays.
INSERT INTO reading_estimates ("timestamp", meter_id, energy, original_energy, method, reason,
                               vee_run)
SELECT t, m, e, o, me, re, %(run)s
FROM unnest(%(timestamp)s::timestamptz[], %(meter_id)s::int4[], %(energy)s::int4[],
            %(original_energy)s::int4[], %(method)s::text[], %(reason)s::text[])
     AS x(t, m, e, o, me, re)
