-- Live ground truth: remove the faults a live simulation recorded from %(start)s on
-- (before its latest truth is inserted again, same transaction), so the table holds
-- each live fault once, with its extent as published so far.
DELETE FROM injected_faults WHERE start_ts >= %(start)s
