-- Live ground truth: a live simulation's first tick removes the faults recorded from its
-- start on (a span simulated again is the new run's).
DELETE FROM injected_faults WHERE start_ts >= %(start)s
