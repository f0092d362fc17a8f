-- Live detection: the newest reading's interval start (the data's frontier is one
-- interval later). The time index finds it without scanning.
SELECT max("timestamp") FROM energy_readings
