-- Ingestion runs publish their counters while they run, and every run that ended
-- is marked as ended.
--
-- heartbeat_at: the run's last sign of life. The consumer's writer thread
--   rewrites the row's counters with it every heartbeat_s seconds (in the same
--   transaction as a batch of readings, or alone when idle), so the counters of a
--   running row never exceed what is committed, and a reader tells a live run
--   (recent heartbeat) from a dead one (none for several intervals).
-- heartbeat_s: the interval that run heartbeats at (5 s by default), so readers
--   need no constant of their own: a 'running' row whose heartbeat is older than
--   6 x heartbeat_s is stale (its consumer is gone).
--
-- status:
--   running    the consumer is (or was last seen) working; counters as of heartbeat_at.
--   finished   ended cleanly: duration over, SIGTERM/SIGINT, Dagster run ended or
--              was cancelled; what was queued is committed and acknowledged.
--   failed     ended by an error (writer failure, no subscription at start); see error.
--   abandoned  ended without saying so (SIGKILL, crash, power loss, database away
--              at the end): a later consumer found it 'running' with a stale
--              heartbeat, or with its own client id (one persistent session has one
--              live consumer), at its start. ended_at is the last heartbeat; the
--              counters are those of that heartbeat (the readings themselves are
--              safe: unacknowledged messages are redelivered to the next run).
--              Should such a run still be alive, its next heartbeat sets it back
--              to 'running'.
-- Rows written before this migration have no heartbeat: started_at stands in for it.

ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS heartbeat_s double precision;

ALTER TABLE ingest_runs DROP CONSTRAINT IF EXISTS ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('running', 'finished', 'failed', 'abandoned'));

-- The reconciliation at every consumer start reads only the running rows.
CREATE INDEX IF NOT EXISTS ingest_runs_running_idx ON ingest_runs (client_id)
    WHERE status = 'running';
