-- Each meter's highest 15-minute mean power per day (migration 010) against raw rows (window
-- aligned to UTC days by the caller), in W: the 15-minute means are numeric, compared with
-- the tolerance the other checks use for means.
WITH q AS (
    SELECT meter_id, time_bucket('15 minutes', "timestamp") AS q_bucket, avg(power) AS avg_power
    FROM energy_readings
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
), raw AS (
    SELECT meter_id, time_bucket('1 day', q_bucket) AS bucket, max(avg_power) AS peak_power
    FROM q GROUP BY 1, 2
)
SELECT count(*) AS mismatches
FROM raw
LEFT JOIN meter_daily_peak AS agg USING (meter_id, bucket)
WHERE agg.bucket IS NULL
   OR abs(agg.peak_power - raw.peak_power) > 1e-6 * greatest(1, abs(raw.peak_power))
