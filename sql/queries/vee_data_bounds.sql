-- VEE: where the data set begins (its first reading) and the last ended interval, the bounds
-- of the intervals that expect a reading.
SELECT min("timestamp") AS first_reading, time_bucket(%(interval)s::interval, now()) AS data_end
FROM energy_readings
