-- First-boot initialisation of the TimescaleDB container, run by the image's
-- entrypoint as the superuser (POSTGRES_USER) in POSTGRES_DB, after the image's
-- own scripts have installed the timescaledb extension there.
--
-- It creates the LOGIN roles with passwords taken from the environment (psql
-- \getenv: the passwords never appear in this file, the repository or the
-- image), hands the database to the owner role that runs the migrations, and
-- creates Dagster's own database. Schema and grants come afterwards from
-- sql/schema (the compose `migrate` service, as grid_owner).
--
-- Re-runnable by hand (`psql -f`): roles are created when missing and their
-- passwords (re)set, which is also how to rotate them.

\set ON_ERROR_STOP on
\getenv owner_password GRID_OWNER_PASSWORD
\getenv ingest_password GRID_INGEST_PASSWORD
\getenv reader_password GRID_READER_PASSWORD
\getenv operator_password GRID_OPERATOR_PASSWORD
\getenv dagster_user DAGSTER_PG_USERNAME
\getenv dagster_password DAGSTER_PG_PASSWORD
\getenv dagster_db DAGSTER_PG_DB

\if :{?owner_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'GRID_OWNER_PASSWORD is not set'; END $$;
\endif
\if :{?ingest_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'GRID_INGEST_PASSWORD is not set'; END $$;
\endif
\if :{?reader_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'GRID_READER_PASSWORD is not set'; END $$;
\endif
\if :{?dagster_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'DAGSTER_PG_PASSWORD is not set'; END $$;
\endif
\if :{?dagster_user}
\else
\set dagster_user dagster
\endif
\if :{?dagster_db}
\else
\set dagster_db dagster
\endif

-- Login roles. Only the owner may create objects; none is a superuser, none
-- may create roles or databases. Passwords are stored as SCRAM hashes.
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I', r)
FROM unnest(ARRAY['grid_owner', 'grid_ingest', 'grid_reader', :'dagster_user']) AS r
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r)
\gexec
ALTER ROLE grid_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'owner_password';
ALTER ROLE grid_ingest LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'ingest_password';
ALTER ROLE grid_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'reader_password';
ALTER ROLE :"dagster_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'dagster_password';

-- Defence in depth for the dashboard: read-only transactions and bounded queries.
ALTER ROLE grid_reader SET default_transaction_read_only = on;
ALTER ROLE grid_reader SET statement_timeout = '60s';

-- The pipeline database belongs to the owner (PostgreSQL >= 15: so does its
-- public schema, through pg_database_owner). Only the three grid roles connect;
-- temporary tables only for the writers (the COPY path stages in one).
SELECT format('ALTER DATABASE %I OWNER TO grid_owner', current_database())
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database())
\gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO grid_ingest, grid_reader', current_database())
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO grid_ingest', current_database())
\gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The operator (acknowledging grid events; its grants come from migration 017) logs in
-- when GRID_OPERATOR_PASSWORD is set (docker compose requires it). Optional here, so a
-- hand run for an older .env still works; run again with it set to add the login.
\if :{?operator_password}
SELECT 'CREATE ROLE grid_operator'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'grid_operator')
\gexec
ALTER ROLE grid_operator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'operator_password';
ALTER ROLE grid_operator SET statement_timeout = '60s';
SELECT format('GRANT CONNECT ON DATABASE %I TO grid_operator', current_database())
\gexec
\endif

-- Dagster's instance storage (runs, event logs, schedules): its own database,
-- owned by its own role, closed to everyone else.
SELECT format('CREATE DATABASE %I OWNER %I', :'dagster_db', :'dagster_user')
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = :'dagster_db')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'dagster_db')
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'dagster_db', :'dagster_user')
\gexec
