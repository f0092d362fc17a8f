-- Event detection, zero reads: readings in [lo, hi) with zero power and current while
-- the voltage is present (a failed current sensor; an outage has no voltage).
SELECT e."timestamp", e.meter_id, e.voltage
FROM energy_readings AS e
WHERE e."timestamp" >= %(lo)s AND e."timestamp" < %(hi)s
  AND e.power = 0 AND e.current = 0 AND e.voltage > 0
