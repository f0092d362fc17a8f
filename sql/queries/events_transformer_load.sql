-- Event detection, transformer loading: per transformer and interval in [lo, hi), the
-- apparent load in kVA (sum of its meters' net kW divided by each class's power
-- factor; negative = export back through the transformer) and its rating; kept only
-- where the load is above %(over)s x rating or below -%(reverse)s x rating, the only
-- intervals that can be part of an overload or a reverse flow.
WITH pf AS (
    SELECT * FROM unnest(%(classes)s::text[], %(pf)s::float8[]) AS p (customer_class, pf)
), loads AS (
    SELECT m.transformer, e."timestamp", sum(e.power / 1000.0 / pf.pf)::float8 AS load_kva
    FROM energy_readings AS e
    JOIN meters AS m USING (meter_id)
    JOIN pf USING (customer_class)
    WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s AND m.transformer IS NOT NULL
    GROUP BY m.transformer, e."timestamp"
)
SELECT l.transformer, l."timestamp", l.load_kva, t.rating_kva::float8 AS rating_kva
FROM loads AS l
JOIN transformers AS t USING (transformer)
WHERE l.load_kva > %(over)s * t.rating_kva OR l.load_kva < -%(reverse)s * t.rating_kva
