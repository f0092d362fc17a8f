-- Power quality: memory per sort or hash for the rest of this transaction only. A week at
-- 5,000 meters groups 5 million meter-windows: with PostgreSQL's default 4 MB the hash
-- spills to disk in batches; with this it stays in memory.
SELECT set_config('work_mem', %(work_mem)s, true)
