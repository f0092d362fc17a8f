-- Ingestion: conflicting duplicates of one batch, received beside stored values, as arrays.
INSERT INTO reading_conflicts ("timestamp", meter_id, power, energy, voltage, current,
                               stored_power, stored_energy, stored_voltage, stored_current,
                               run_id, readings_table)
SELECT t, m, p, e, v, c, sp, se, sv, sc, %(run_id)s, %(table)s
FROM unnest(%(timestamp)s::timestamptz[], %(meter_id)s::int4[], %(power)s::int4[],
            %(energy)s::int4[], %(voltage)s::int4[], %(current)s::int4[],
            %(stored_power)s::int4[], %(stored_energy)s::int4[], %(stored_voltage)s::int4[],
            %(stored_current)s::int4[]) AS x(t, m, p, e, v, c, sp, se, sv, sc)
