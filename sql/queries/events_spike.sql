-- Event detection, spikes: readings in [lo, hi) whose power is above %(multiple)s x the
-- meter's connection rating (stored W against rated kW), which its load cannot draw.
SELECT e."timestamp", e.meter_id, e.power, m.rated_kw
FROM energy_readings AS e
JOIN meters AS m USING (meter_id)
WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
  AND e.power > %(multiple)s * m.rated_kw * 1000.0
