-- VEE: forget the flags and estimates of [start, end) before a run writes them again.
WITH flags AS (
    DELETE FROM reading_flags WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
)
DELETE FROM reading_estimates WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
