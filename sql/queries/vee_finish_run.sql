-- VEE: close a run with what it wrote.
UPDATE vee_runs SET finished_at = now(), flags = %(flags)s, estimates = %(estimates)s
WHERE vee_run = %(run)s
