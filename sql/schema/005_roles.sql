-- Roles and grants: least privilege for every service that connects.
--
--   grid_owner   owns the schema and runs the migrations (in docker compose the
--                init script creates it with LOGIN and a password from the
--                environment, and the Dagster runs use it: they create variants,
--                compress chunks and refresh aggregates).
--   grid_ingest  the MQTT consumer: reads the fleet, inserts readings and
--                rejects, records its runs. No DDL, no UPDATE/DELETE of data.
--   grid_reader  the dashboard: SELECT only (tables, aggregates, benchmarks).
--
-- Roles are created NOLOGIN when missing: no password ever lives in this
-- repository. docker compose creates the login roles (with passwords from the
-- environment) before this file runs, so here they already exist and only the
-- grants apply. Re-runnable: DO blocks check pg_roles, GRANT is idempotent.
--
-- The embedded engine (PGlite) is one superuser session: it accepts all of this
-- but enforces none of it; the grants are tested on a native PostgreSQL.
-- The grants name the tables of migrations 001-004 explicitly, so a renamed
-- table fails this migration loudly instead of silently losing its grant.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'grid_owner') THEN
        CREATE ROLE grid_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'grid_ingest') THEN
        CREATE ROLE grid_ingest NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'grid_reader') THEN
        CREATE ROLE grid_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO grid_ingest, grid_reader;

-- Dashboard: read everything in the schema (tables, hypertables, continuous
-- aggregates, benchmark and compression results), write nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grid_reader;

-- Ingestion. SELECT on the readings is needed by the COPY path (its staging
-- table is `CREATE TEMP TABLE ... (LIKE energy_readings)`); SELECT on
-- schema_migrations lets the consumer confirm the schema is current.
GRANT SELECT, INSERT ON TABLE energy_readings, ingest_rejects TO grid_ingest;
GRANT SELECT ON TABLE meters, schema_migrations TO grid_ingest;
GRANT SELECT, INSERT, UPDATE ON TABLE ingest_runs TO grid_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO grid_ingest;

-- Objects created later by the role that runs this file (new migrations,
-- chunk-interval variants and aggregates created by Dagster runs as the owner)
-- are readable by the dashboard without another grant. Ingestion gets nothing
-- by default: a new table it must write gets an explicit grant in its migration.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO grid_reader;
