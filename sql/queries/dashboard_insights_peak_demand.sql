-- Dashboard, Insights: each meter's peak demand, the highest 15-minute mean power in the window
-- (the seed's 15-minute aggregate's avg_power), and its share of the rated power. One grouped
-- scan; finding when each peak happened as well doubled the page's cost on the default data set.
--
-- The window's whole UTC days [days_from, days_to) are read from meter_daily_peak (each meter's
-- highest 15-minute mean per day), the rest of the window from the 15-minute aggregate: the
-- maximum of those is the maximum over every 15-minute bucket of the window, from a seventh of
-- the rows for a week. The data layer sets days_from = days_to = start when the window holds no
-- whole day. The aggregates are in W; peak_kw is kW (/ 1000), like rated_kw. The maximum is
-- taken per meter before meters is joined (5,000 rows to join instead of 35,000 meter-days).
WITH peaks AS (
    SELECT d.meter_id, d.peak_power
    FROM meter_daily_peak AS d
    WHERE d.bucket >= %(days_from)s AND d.bucket < %(days_to)s
    UNION ALL
    SELECT q.meter_id, q.avg_power
    FROM energy_readings_15min AS q
    WHERE q.bucket >= %(start)s AND q.bucket < least(%(days_from)s, %(end)s)
    UNION ALL
    SELECT q.meter_id, q.avg_power
    FROM energy_readings_15min AS q
    WHERE q.bucket >= greatest(%(days_to)s, %(start)s) AND q.bucket < %(end)s
),
per_meter AS (
    SELECT p.meter_id, max(p.peak_power) AS peak_power
    FROM peaks AS p
    GROUP BY p.meter_id
),
per_meter_kw AS (
    SELECT
        m.meter_id,
        m.customer_class,
        m.feeder,
        p.peak_power::float8 / 1000             AS peak_kw,
        p.peak_power::float8 / 1000 / m.rated_kw AS peak_of_rated
    FROM per_meter AS p
    JOIN meters AS m ON m.meter_id = p.meter_id
    WHERE (cardinality(%(classes)s::text[]) = 0 OR m.customer_class = ANY(%(classes)s::text[]))
      AND (cardinality(%(feeders)s::text[]) = 0 OR m.feeder = ANY(%(feeders)s::text[]))
      AND (cardinality(%(transformers)s::text[]) = 0 OR m.transformer = ANY(%(transformers)s::text[]))
)
-- One row per customer class and feeder with its meters as arrays (the data layer unnests
-- them, one row per meter ordered by meter_id): the embedded engine's wire costs about as
-- much per row as the query, and 5,000 meters are 5,000 rows where a few hundred carry the
-- same numbers.
SELECT
    customer_class,
    feeder,
    array_agg(meter_id ORDER BY meter_id)      AS meter_id,
    array_agg(peak_kw ORDER BY meter_id)       AS peak_kw,
    array_agg(peak_of_rated ORDER BY meter_id) AS peak_of_rated
FROM per_meter_kw
GROUP BY customer_class, feeder
