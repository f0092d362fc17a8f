-- Alert deliveries: one row per grid event sent (or to be sent) to GRID_ALERT_WEBHOOK.
--
-- Keyed by the event's stable key (kind, asset_type, asset, start_ts), not event_id:
-- re-detecting a window deletes and re-inserts its events with new ids, and an event
-- found again must not be alerted again. status moves pending -> delivered, or
-- pending -> failed after the last attempt; next_attempt_at is when a pending row is
-- due (the backoff after a failed POST). A plain table: a few rows per event, no time
-- partitioning needed.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    kind            text        NOT NULL,
    asset_type      text        NOT NULL,
    asset           text        NOT NULL,
    start_ts        timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, asset_type, asset, start_ts)
);
-- The deliverer's question: which pending rows are due now.
CREATE INDEX IF NOT EXISTS alert_deliveries_due_idx
    ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

GRANT SELECT ON alert_deliveries TO grid_reader;
