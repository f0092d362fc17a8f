-- Event detection, transformer loading: per transformer and interval in [lo, hi), the
-- apparent load in kVA (sum of its meters' net W / 1000 divided by each class's power
-- factor; negative = export back through the transformer) and its rating; kept only
-- where the load is above %(over)s x rating or below -%(reverse)s x rating, the only
-- intervals that can be part of an overload or a reverse flow. Each meter's weight
-- (1 / (1000 x pf)) and its transformer's number are worked out once, so the scan of
-- the readings groups by an integer and multiplies.
WITH weights AS (
    SELECT m.meter_id, t.transformer, t.rating_kva::float8 AS rating_kva,
           dense_rank() OVER (ORDER BY t.transformer)::int AS tx,
           1.0 / 1000.0 / p.pf AS weight
    FROM meters AS m
    JOIN transformers AS t USING (transformer)
    JOIN unnest(%(classes)s::text[], %(pf)s::float8[]) AS p (customer_class, pf) USING (customer_class)
), loads AS (
    SELECT w.tx, e."timestamp", sum(e.power * w.weight) AS load_kva
    FROM energy_readings AS e
    JOIN weights AS w USING (meter_id)
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
    GROUP BY w.tx, e."timestamp"
)
SELECT t.transformer, l."timestamp", l.load_kva, t.rating_kva
FROM loads AS l
JOIN (SELECT DISTINCT tx, transformer, rating_kva FROM weights) AS t USING (tx)
WHERE l.load_kva > %(over)s * t.rating_kva OR l.load_kva < -%(reverse)s * t.rating_kva
