-- Acknowledging grid events: who acknowledged, and a role that may do nothing else.
--
-- The dashboard reads as grid_reader (SELECT only). Acknowledging an event is the one
-- write an operator makes, so it gets its own role: grid_operator reads what the
-- Events page reads and may UPDATE nothing but grid_events.acknowledged_at and
-- grid_events.acknowledged_by (who), a column-level grant: an operator session cannot
-- change an event's kind, times, severity or evidence, insert or delete one. Created
-- NOLOGIN when missing, like 005_roles.sql (docker compose gives it LOGIN and a
-- password, GRID_OPERATOR_PASSWORD). The embedded engine accepts grants, enforces none.
-- SELECT on schema_migrations lets the migrator's start-up check pass as this role.

ALTER TABLE grid_events ADD COLUMN IF NOT EXISTS acknowledged_by text;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'grid_operator') THEN
        CREATE ROLE grid_operator NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO grid_operator;
GRANT SELECT ON TABLE grid_events, meters, transformers, feeders, schema_migrations
    TO grid_operator;
GRANT UPDATE (acknowledged_at, acknowledged_by) ON TABLE grid_events TO grid_operator;
