-- Live feeder heads: one interval's feeder-head readings (W, Wh), replacing any stored
-- for the same feeder and interval (a re-simulated interval writes the same values).
INSERT INTO feeder_head_readings ("timestamp", feeder, power, energy)
SELECT * FROM unnest(
    %(timestamp)s::timestamptz[], %(feeder)s::text[], %(power)s::int4[], %(energy)s::int4[]
)
ON CONFLICT (feeder, "timestamp") DO UPDATE SET power = EXCLUDED.power, energy = EXCLUDED.energy
