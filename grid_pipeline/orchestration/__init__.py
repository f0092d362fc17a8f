"""Driving a running Dagster instance: its GraphQL API and the project-local dagster.yaml."""
