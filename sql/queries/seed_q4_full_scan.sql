-- Seed query 4: Full Dataset Scan (verbatim from the seed description).
SELECT COUNT(*), AVG(power), MAX(power), MIN(power) FROM energy_readings;
