-- Power quality per meter and week: the EN 50160 verdict and the ANSI C84.1 band shares.
--
-- EN 50160 judges supply voltage over a week: 95 % of the 10-minute mean r.m.s. voltages
-- within +-10 % of nominal, and none above +10 % or below -15 %. ANSI C84.1 reads the same
-- means against Range A (0.95-1.05 pu, 114-126 V on a 120 V base) and Range B
-- (110-127 V, 0.9167-1.0583 pu).
--
-- Why a table: at 5,000 meters a week is 10 million readings, far too many to scan per page
-- view. `grid-pipeline power-quality` (and the Dagster asset `power_quality_weekly`) computes
-- each week once in SQL (`sql/queries/power_quality_insert_week.sql`) and the dashboard reads
-- one row per meter and week.
--
-- `week` is the Monday 00:00 UTC that starts it. 10-minute windows containing a reading with
-- voltage 0 are an interruption, not a supply-voltage sample (EN 50160 excludes them): they
-- are counted in `windows_excluded` and left out of every share. Shares are of `windows`.
-- `verdict` is 'incomplete' when the week is not whole inside the data (its first or last
-- 10 minutes hold no reading), else 'pass' or 'fail'.
CREATE TABLE IF NOT EXISTS power_quality_weekly (
    meter_id           integer          NOT NULL,
    week               timestamptz      NOT NULL,
    windows            integer          NOT NULL CHECK (windows >= 0),
    windows_excluded   integer          NOT NULL CHECK (windows_excluded >= 0),
    share_within_10pct double precision,
    any_outside_limits boolean          NOT NULL,
    verdict            text             NOT NULL
        CHECK (verdict IN ('pass', 'fail', 'incomplete')),
    ansi_a             double precision,
    ansi_b_only        double precision,
    ansi_outside       double precision,
    computed_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, week)
);

CREATE INDEX IF NOT EXISTS power_quality_weekly_week_idx ON power_quality_weekly (week);

COMMENT ON COLUMN power_quality_weekly.week IS 'Monday 00:00 UTC starting the week';
COMMENT ON COLUMN power_quality_weekly.windows IS
    '10-minute windows with readings and no interruption (voltage 0)';
COMMENT ON COLUMN power_quality_weekly.windows_excluded IS
    '10-minute windows containing a reading with voltage 0 (interruptions)';
COMMENT ON COLUMN power_quality_weekly.share_within_10pct IS
    'share of windows whose mean voltage lies within +-10 % of nominal (EN 50160: >= 0.95)';
COMMENT ON COLUMN power_quality_weekly.any_outside_limits IS
    'some window mean above +10 % or below -15 % of nominal (EN 50160: none)';

GRANT SELECT ON power_quality_weekly TO grid_reader;
