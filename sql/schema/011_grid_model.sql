-- The grid model: feeders and distribution transformers, with ratings.
--
-- Grid events concern assets as much as meters (an overloaded transformer, a
-- feeder without supply, energy missing between a feeder's head and its meters),
-- so the fleet's assets are stored beside it. `grid_pipeline/fleet/grid.py`
-- derives them from the fleet (deterministic from the seed) and
-- `storage.historic.replace_fleet` writes them with the meters in one
-- transaction. Ratings are apparent power in kVA (a transformer carries
-- kW / power factor). Each feeder has a feeder-head meter, numbered above every
-- customer meter, that measures the feeder's total.

CREATE TABLE IF NOT EXISTS feeders (
    feeder        text    PRIMARY KEY,
    substation    text    NOT NULL,
    rating_kva    integer NOT NULL CHECK (rating_kva > 0),
    head_meter_id integer NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS transformers (
    transformer text    PRIMARY KEY,
    feeder      text    NOT NULL REFERENCES feeders (feeder) ON DELETE CASCADE,
    rating_kva  integer NOT NULL CHECK (rating_kva > 0)
);

-- The transformer serving each meter (NULL only for a fleet stored before this
-- migration, until the fleet is stored again).
ALTER TABLE meters ADD COLUMN IF NOT EXISTS transformer text;
CREATE INDEX IF NOT EXISTS meters_transformer_idx ON meters (transformer);

GRANT SELECT ON feeders, transformers TO grid_reader, grid_ingest;
