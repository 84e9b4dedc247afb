"""Adapters of reconciliation: statement parsers, PostgreSQL read model, reference data."""
