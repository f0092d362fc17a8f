-- VEE: record who runs validation over which window, with which rules; returns the run id.
INSERT INTO vee_runs (window_start, window_end, actor, rules)
VALUES (%(start)s, %(end)s, %(actor)s, %(rules)s)
RETURNING vee_run
