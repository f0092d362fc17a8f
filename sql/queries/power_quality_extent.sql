-- Power quality: the first and last reading of the data set (NULLs when there is none); the
-- weeks to compute are those they touch.
SELECT min("timestamp") AS first_reading, max("timestamp") AS last_reading
FROM energy_readings
