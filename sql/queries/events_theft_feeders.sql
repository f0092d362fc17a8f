-- Event detection, theft: each feeder's energy per UTC day over [lo, hi) at its head (Wh).
-- Head minus the sum of its meters is the energy the meters do not account for:
-- technical losses, and whatever is stolen.
SELECT time_bucket(INTERVAL '1 day', h."timestamp") AS day, h.feeder,
       sum(h.energy)::float8 AS head
FROM feeder_head_readings AS h
WHERE h."timestamp" >= %(lo)s AND h."timestamp" < %(hi)s
GROUP BY 1, 2
