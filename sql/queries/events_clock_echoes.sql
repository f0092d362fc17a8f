-- Event detection, clock drift: echoes in [lo, hi). An echo is a non-zero reading (power,
-- energy, voltage, current) that a meter files twice at most %(max_lag)s apart, with no
-- third copy within %(max_lag)s of the two, and whose power no other reading of the meter
-- has within %(max_lag)s of them (constant power is a stuck register or a clipped
-- overload, not a clock). The same test as `clock.echo_pairs`; few rows: the echoes.
WITH repeated AS (
    SELECT meter_id, power, array_agg("timestamp" ORDER BY "timestamp") AS stamps
    FROM energy_readings
    WHERE "timestamp" >= %(lo)s AND "timestamp" < %(hi)s AND power <> 0
    GROUP BY meter_id, power, energy, voltage, current
    HAVING count(*) >= 2
),
pairs AS (
    SELECT r.meter_id, r.power, r.stamps[s.i - 1] AS first_ts, r.stamps[s.i] AS second_ts
    FROM repeated AS r, generate_subscripts(r.stamps, 1) AS s(i)
    WHERE s.i > 1
      AND r.stamps[s.i] - r.stamps[s.i - 1] <= %(max_lag)s::interval
      AND (s.i = 2 OR r.stamps[s.i - 1] - r.stamps[s.i - 2] > %(max_lag)s::interval)
      AND (s.i = cardinality(r.stamps)
           OR r.stamps[s.i + 1] - r.stamps[s.i] > %(max_lag)s::interval)
)
SELECT p.meter_id, p.first_ts, p.second_ts
FROM pairs AS p
WHERE (SELECT count(*)
       FROM energy_readings AS e
       WHERE e.meter_id = p.meter_id AND e.power = p.power
         AND e."timestamp" >= p.first_ts - %(max_lag)s::interval
         AND e."timestamp" <= p.second_ts + %(max_lag)s::interval) = 2
ORDER BY p.meter_id, p.second_ts
