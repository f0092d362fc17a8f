-- Meter-days with fewer readings than a full day holds, over complete UTC days
-- between %(start)s and %(end)s (from the per-meter hourly statistics).
SELECT m.meter_id, d.day::date AS day, coalesce(sum(s.readings), 0)::int AS readings
FROM meters AS m
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 day',
                           interval '1 day') AS d(day)
LEFT JOIN meter_hourly_stats AS s
       ON s.meter_id = m.meter_id AND s.bucket >= d.day AND s.bucket < d.day + interval '1 day'
GROUP BY m.meter_id, d.day
HAVING coalesce(sum(s.readings), 0) < %(per_day)s
ORDER BY d.day, m.meter_id
