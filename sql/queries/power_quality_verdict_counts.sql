-- Power quality: how many meters passed, failed or are incomplete in one stored week.
SELECT verdict, count(*)::int AS meters
FROM power_quality_weekly
WHERE week = %(week)s
GROUP BY verdict
