-- Dashboard: how much data there is and how fresh it is (the anchor of every "last N days").
-- min/max use the hypertable's time index; no full scan.
SELECT
    (SELECT count(*) FROM meters)                       AS meters,
    (SELECT min("timestamp") FROM energy_readings)      AS first_reading,
    (SELECT max("timestamp") FROM energy_readings)      AS last_reading,
    now()                                               AS checked_at
